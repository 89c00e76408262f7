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
 * @param worldSize     processes of the data-parallel run that saved it (1 for one process; 0, read from a checkpoint
 *                      written before data parallelism, means 1): the data cursor counts global batches of
 *                      {@code worldSize * batch-size} rows
 */
public record TrainerState(int step, int totalSteps, int dataEpoch, int dataPosition, long tokensSeen, double trainSeconds,
                           @JsonInclude(JsonInclude.Include.NON_EMPTY) List<ResumeChange> resumeChanges, int worldSize) {
    public TrainerState {
        resumeChanges = resumeChanges == null ? List.of() : List.copyOf(resumeChanges);
    }

    /** The state of a single-process run. */
    public TrainerState(int step, int totalSteps, int dataEpoch, int dataPosition, long tokensSeen, double trainSeconds) {
        this(step, totalSteps, dataEpoch, dataPosition, tokensSeen, trainSeconds, List.of(), 1);
    }

    /** This state as saved by a run of {@code n} processes. */
    public TrainerState withWorldSize(int n) {
        return new TrainerState(step, totalSteps, dataEpoch, dataPosition, tokensSeen, trainSeconds, resumeChanges, n);
    }

    public DataCursor cursor() {
        return new DataCursor(dataEpoch, dataPosition);
    }

    /** This state with {@code changes} as its history of settings changed on resume. */
    public TrainerState withResumeChanges(List<ResumeChange> changes) {
        return new TrainerState(step, totalSteps, dataEpoch, dataPosition, tokensSeen, trainSeconds, changes, worldSize);
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
