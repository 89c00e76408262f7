package org.qoft4j.trainer;

import java.util.function.IntConsumer;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.data.Batch;
import org.qoft4j.model.AttentionContext;
import org.qoft4j.model.LlamaModel;

/**
 * How one micro-batch's gradients reach the adapters: {@link RecomputeStep} (layer-wise recomputation, the default)
 * or {@link FullGraphStep} (plain autograd over the whole model). Both add {@code d(scale * nll) / d(parameter)}
 * into each adapter tensor's {@code .grad} and give the same gradients.
 */
public sealed interface BackwardPass permits RecomputeStep, FullGraphStep {
    /**
     * Summed next-token NLL of the batch's scored tokens as a 0-dim fp32 tensor on the model's device — not read
     * here, so a step issues no host sync until the trainer reads all its numbers at once — and how many there were.
     */
    record Loss(Tensor nllSum, long tokens) {}

    /**
     * Forward and backward of one micro-batch (grad mode is switched on for it, whatever the caller's). The result's
     * tensor belongs to the caller's PointerScope.
     *
     * @param scale the gradient is that of {@code scale * nllSum}; the trainer passes 1 / (scored tokens of the whole
     *              optimizer step), so accumulated micro-batches add up to the mean over the step's tokens
     */
    default Loss run(Batch batch, double scale) {
        return run(batch, scale, LAYERS_UNWATCHED);
    }

    /**
     * As {@link #run(Batch, double)}, calling {@code layerDone} with a decoder layer's index as soon as that layer's
     * adapter gradients for this micro-batch are complete, during the backward (top layer first). A data-parallel run
     * starts each layer's gradient all-reduce there. Only {@link RecomputeStep} calls it; with plain autograd every
     * gradient is final only when the whole backward is, and the caller reduces them all then.
     */
    Loss run(Batch batch, double scale, IntConsumer layerDone);

    /** No one listens for finished layers. */
    IntConsumer LAYERS_UNWATCHED = i -> {};

    static BackwardPass of(LlamaModel model, RngState rng, boolean recompute) {
        return recompute ? new RecomputeStep(model, rng) : new FullGraphStep(model);
    }

    /** The pass {@code c} asks for: {@code recompute} and, with it, {@code memory-budget} (how many top layers keep their graph). */
    static BackwardPass of(LlamaModel model, RngState rng, TrainConfig c) {
        if (!c.recompute()) return new FullGraphStep(model);
        return new RecomputeStep(model, rng, new KeptLayers(model, c.dtype().on(c.device()), c.memoryBudget(),
                model.numLayers() - lowestAdaptedLayer(model)));
    }

    /** The first decoder layer holding an adapter (layers below it need no backward), or the layer count when none does. */
    static int lowestAdaptedLayer(LlamaModel m) {
        for (int i = 0; i < m.numLayers(); i++)
            if (m.layer(i).projections().values().stream().anyMatch(p -> p.adapter() != null)) return i;
        return m.numLayers();
    }

    /** Positions and the per-sample causal mask of a packed batch. */
    static AttentionContext context(LlamaModel m, Batch b) {
        return m.packedContext(b.positionIdsTensor(), b.sequenceIdsTensor());
    }
}
