package org.qoft4j.trainer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.qoft4j.model.AdapterSet;

/**
 * Decides when a run has diverged and which checkpoint is then the last good one.
 *
 * <p>A step's loss and gradient describe the state left by the step before it, so a checkpoint of step c is known
 * to be good only once step c + 1's forward pass is healthy. When step s's loss or gradient is not finite, or the
 * run is dead (below), the state after step s - 1 is bad: if the newest checkpoint is of step s - 1 it is renamed
 * to {@code step-NNNNNN.diverged} (kept for a look, never resumed) and the one before it is named instead.
 * Non-finite adapter parameters, OFT rotations or optimizer moments after an update stop the run the same way
 * (the optimizer's moments are checked when a checkpoint is written: libtorch keeps them out of Java's reach).
 *
 * <p>A dead run: the loss sits at ln(vocab) — uniform logits — with a gradient norm of exactly 0. The gradient of
 * the cross-entropy with respect to the logits (softmax - one-hot) is never zero, so no gradient reaching the
 * adapters means no adapter parameter reaches the output any more (measured: LoRA at lr 1e9, where the hidden
 * states grew until RMSNorm's mean square overflowed and scaled every state to 0). AdamW cannot leave that state —
 * with zero gradients it keeps pushing the parameters along its stale momentum — so the run stops at the first such
 * step rather than spend the rest of its steps writing checkpoints and an adapter that look like a success.
 */
final class DivergenceGuard {
    /** How close to ln(vocab), relatively, a loss counts as uniform. */
    static final double UNIFORM_TOLERANCE = 1e-4;

    private final Checkpointer checkpointer;
    private final double uniformLoss;
    private final double lr;
    private final Consumer<String> warn;
    private Path lastGood;
    private int lastGoodStep = -1;
    private boolean warnedZeroGradient;

    DivergenceGuard(Checkpointer checkpointer, long vocabSize, double lr, Consumer<String> warn) {
        this.checkpointer = checkpointer;
        this.uniformLoss = Math.log(vocabSize);
        this.lr = lr;
        this.warn = warn;
    }

    /** A checkpoint was written (or resumed from) for {@code step}. */
    void checkpointed(Path checkpoint, int step) {
        lastGood = checkpoint;
        lastGoodStep = step;
    }

    /** The checkpoint a divergence message names now: null before the first. */
    Path lastGood() {
        return lastGood;
    }

    /** After step {@code step}'s forward and backward (1-based): its loss and gradient norm before clipping. */
    void checkForward(int step, double loss, double gradNorm) {
        if (!Double.isFinite(loss)) throw stop(step, "the training loss is " + loss, true);
        if (!Double.isFinite(gradNorm)) throw stop(step, "the gradient norm is " + gradNorm + " (loss " + loss + ")", true);
        if (gradNorm == 0 && Math.abs(loss - uniformLoss) <= UNIFORM_TOLERANCE * uniformLoss)
            throw stop(step, String.format(Locale.ROOT, "the run is dead: the loss is %.6f = ln(vocab), uniform logits, and the gradient norm is 0, "
                    + "so no gradient reaches the adapters any more (their values have grown until the model's activations overflowed)", loss), true);
        if (gradNorm == 0 && !warnedZeroGradient) {
            warnedZeroGradient = true;
            warn.accept("step " + step + ": the gradient norm is 0 (loss " + loss + "): no gradient reaches the adapters");
        }
    }

    /** After step {@code step}'s update: its metrics (the adapters it left are checked by the next step's read). */
    void checkMetrics(int step, StepMetrics m) {
        String bad = CheckpointHealth.metrics(m);
        if (bad != null) throw stop(step, bad, false);
    }

    /** Step {@code step}'s update left non-finite adapter values: says which parameter. */
    void adaptersNotFinite(int step, AdapterSet adapters) {
        String bad = CheckpointHealth.adapters(adapters);
        throw stop(step, bad != null ? bad : "an adapter parameter holds non-finite values", false);
    }

    /** A checkpoint of {@code step} was refused as not finite. */
    TrainingDivergedException refused(int step, StateNotFiniteException e) {
        return stop(step, e.getMessage(), false);
    }

    /**
     * @param stateBefore the state the step started from is bad (its forward pass showed it), so a checkpoint of the
     *                    step before is not good either
     */
    private TrainingDivergedException stop(int step, String what, boolean stateBefore) {
        String quarantined = "";
        if (stateBefore && lastGood != null && lastGoodStep == step - 1) {
            Path renamed = quarantine(lastGood);
            quarantined = " The checkpoint of step " + lastGoodStep + " held the state that diverged; it was renamed to " + renamed.getFileName() + ".";
            List<Path> left = Checkpointer.list(checkpointer.dir());
            lastGood = left.isEmpty() ? null : left.get(left.size() - 1);
            lastGoodStep = lastGood == null ? -1 : Checkpointer.state(lastGood).step();
        }
        String where = lastGood == null ? "no good checkpoint was saved before it (set save-every to keep some)"
                : "the last good checkpoint is " + lastGood + "; continue from it with a lower learning rate: --resume " + lastGood + " lr="
                        + lower(lr) + " (lr, warmup, min-lr-ratio and max-grad-norm may change on resume)";
        return new TrainingDivergedException(step, "training stopped at step " + step + ": " + what + "; nothing was saved after the divergence and "
                + where + "." + quarantined);
    }

    /** A tenth of {@code lr}, short: 0.001, 1E+8. */
    static String lower(double lr) {
        return new java.math.BigDecimal(lr / 10).round(new java.math.MathContext(3)).stripTrailingZeros().toString();
    }

    private Path quarantine(Path checkpoint) {
        try {
            return checkpointer.quarantine(checkpoint);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot rename the diverged checkpoint " + checkpoint + ": " + e.getMessage(), e);
        }
    }
}
