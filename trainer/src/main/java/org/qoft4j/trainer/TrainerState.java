package org.qoft4j.trainer;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import org.qoft4j.data.DataCursor;

/**
 * Where a run stands after an optimizer step: what a checkpoint's {@code trainer_state.json} holds besides the
 * tensors. The scheduler has no state of its own: the learning rate is a function of {@code step}. The data
 * order is a function of (seed, epoch), so the cursor pins the next batch exactly.
 *
 * @param step          optimizer steps done (the scheduler step)
 * @param totalSteps    the run's planned steps (the schedule's length)
 * @param dataEpoch     the data loader's epoch
 * @param dataPosition  batches of that epoch already consumed
 * @param tokensSeen    input tokens trained on so far
 * @param trainSeconds  wall time spent in training steps so far
 * @param resumeChanges settings changed when the run was resumed ({@link ResumePolicy}), oldest first; written only
 *                      when there are some
 */
public record TrainerState(int step, int totalSteps, int dataEpoch, int dataPosition, long tokensSeen, double trainSeconds,
                           @JsonInclude(JsonInclude.Include.NON_EMPTY) List<ResumeChange> resumeChanges) {
    public TrainerState {
        resumeChanges = resumeChanges == null ? List.of() : List.copyOf(resumeChanges);
    }

    public TrainerState(int step, int totalSteps, int dataEpoch, int dataPosition, long tokensSeen, double trainSeconds) {
        this(step, totalSteps, dataEpoch, dataPosition, tokensSeen, trainSeconds, List.of());
    }

    public DataCursor cursor() {
        return new DataCursor(dataEpoch, dataPosition);
    }

    /** This state with {@code changes} as its history of settings changed on resume. */
    public TrainerState withResumeChanges(List<ResumeChange> changes) {
        return new TrainerState(step, totalSteps, dataEpoch, dataPosition, tokensSeen, trainSeconds, changes);
    }

    /**
     * One setting changed when a run was resumed.
     *
     * @param atStep the checkpoint's step: the change applies from step {@code atStep + 1} on
     * @param option the option's key ({@code lr})
     * @param from   its value in the checkpoint
     * @param to     its value from then on
     */
    public record ResumeChange(int atStep, String option, String from, String to) {}
}
