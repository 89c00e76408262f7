package org.qoft4j.trainer.train;

import org.qoft4j.trainer.data.Batch;
import org.qoft4j.trainer.model.LlamaModel;
import org.qoft4j.trainer.model.Projection;

/**
 * How one micro-batch's gradients reach the adapters: {@link RecomputeStep} (layer-wise recomputation, the default)
 * or {@link FullGraphStep} (plain autograd over the whole model). Both add {@code d(scale * nll) / d(parameter)}
 * into each adapter tensor's {@code .grad} and give the same gradients.
 */
public sealed interface BackwardPass permits RecomputeStep, FullGraphStep {
    /** Summed next-token NLL of the batch's scored tokens, and how many there were. */
    record Loss(double nllSum, long tokens) {}

    /**
     * Forward and backward of one micro-batch (grad mode is switched on for it, whatever the caller's).
     *
     * @param scale the gradient is that of {@code scale * nllSum}; the trainer passes 1 / (scored tokens of the whole
     *              optimizer step), so accumulated micro-batches add up to the mean over the step's tokens
     */
    Loss run(Batch batch, double scale);

    static BackwardPass of(LlamaModel model, RngState rng, boolean recompute) {
        return recompute ? new RecomputeStep(model, rng) : new FullGraphStep(model);
    }

    /** The first decoder layer holding an adapter (layers below it need no backward), or the layer count when none does. */
    static int lowestAdaptedLayer(LlamaModel m) {
        for (int i = 0; i < m.numLayers(); i++)
            if (m.layer(i).projections().values().stream().anyMatch(Projection::isReplaced)) return i;
        return m.numLayers();
    }
}
