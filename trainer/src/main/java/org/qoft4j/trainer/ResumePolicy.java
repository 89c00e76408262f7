package org.qoft4j.trainer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.qoft4j.trainer.TrainerState.ResumeChange;

/**
 * Which settings a resumed run may change. A resumed run takes its settings from the checkpoint's
 * {@code config.yaml}; some may differ:
 * <ul>
 *   <li>{@link Trainer#RESUME_MAY_CHANGE}: they change nothing the run computes (run length, checkpoint and eval
 *       cadence, output directory, threads, progress display, eval data);</li>
 *   <li>{@link #SCHEDULE}: {@code lr}, {@code warmup}, {@code min-lr-ratio}, {@code max-grad-norm} — the learning
 *       rate is recomputed from the schedule at every step and the clipping threshold applied at every step, so a
 *       new value takes effect from the next step, as the divergence message's advice ("resume with a lower lr")
 *       needs. Each change is noted in the output and recorded in {@code trainer_state.json}.</li>
 * </ul>
 * Everything else is refused: the data settings (data, batch-size, seq-len, grad-accum, packing, seed, ...) fix the
 * data cursor's meaning; the adapter settings fix the tensors; AdamW's {@code beta1}, {@code beta2},
 * {@code adam-eps} and {@code weight-decay} are restored from {@code optimizer.pt} with its moments, so a new value
 * would be silently overridden.
 */
final class ResumePolicy {
    static final Set<String> SCHEDULE = Set.of("lr", "warmup", "min-lr-ratio", "max-grad-norm");

    private ResumePolicy() {}

    /**
     * The schedule settings {@code now} changes against the checkpoint's {@code saved} ones, at the checkpoint's step.
     *
     * @param alsoAllowed settings whose change the caller checks itself (batch-size with a new number of processes)
     * @throws ConfigException when any other setting outside {@link Trainer#RESUME_MAY_CHANGE} differs
     */
    static List<ResumeChange> changes(Path from, TrainConfig saved, TrainConfig now, int step, Set<String> alsoAllowed) {
        Set<String> allowed = new HashSet<>(Trainer.RESUME_MAY_CHANGE);
        allowed.addAll(SCHEDULE);
        allowed.addAll(alsoAllowed);
        List<String> refused = TrainConfigIO.differences(saved, now, allowed);
        if (!refused.isEmpty())
            throw new ConfigException("cannot resume from " + from + " with different settings: " + String.join("; ", refused)
                    + " (a resumed run takes its settings from the checkpoint's " + Checkpointer.CONFIG_FILE + "; only "
                    + String.join(", ", SCHEDULE.stream().sorted().toList()) + " and the run's length, cadence and output may change)");
        ObjectNode a = TrainConfigIO.YAML.valueToTree(saved), b = TrainConfigIO.YAML.valueToTree(now);
        List<ResumeChange> changes = new ArrayList<>();
        for (String key : TrainConfigIO.keys()) {
            if (!SCHEDULE.contains(key)) continue;
            JsonNode x = a.get(key), y = b.get(key);
            if (!x.equals(y)) changes.add(new ResumeChange(step, key, x.asText(), y.asText()));
        }
        return changes;
    }

    /** One line for the run's output: what changed and what the learning rate of the next step is now. */
    static String note(List<ResumeChange> changes, TrainConfig saved, TrainConfig now, int step, int total) {
        List<String> parts = changes.stream().map(c -> c.option() + " " + c.from() + " -> " + c.to()).toList();
        double before = LrSchedule.of(saved, total).at(Math.min(step, total - 1)), after = LrSchedule.of(now, total).at(Math.min(step, total - 1));
        return String.format(Locale.ROOT, "resumed with changed settings, in effect from step %d: %s (the learning rate of step %d is %.3g, "
                + "was %.3g); recorded in %s", step + 1, String.join(", ", parts), step + 1, after, before, Checkpointer.STATE_FILE);
    }
}
