package org.qoft4j.trainer.train;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.trainer.data.Batch;
import org.qoft4j.trainer.model.AttentionContext;
import org.qoft4j.trainer.model.DecoderLayer;
import org.qoft4j.trainer.model.LlamaModel;

/**
 * One micro-batch with plain autograd over the whole model ({@code --no-recompute}). <b>Memory-hungry</b>: the
 * graph keeps every layer's activations and, for a 4-bit base, every layer's dequantized weight until backward.
 * For small models and as the reference {@link RecomputeStep} is tested against; the head and loss are the same
 * chunked {@link HeadLoss}.
 */
public final class FullGraphStep implements BackwardPass {
    private final LlamaModel model;

    public FullGraphStep(LlamaModel model) {
        this.model = model;
    }

    @Override
    public Loss run(Batch batch, double scale) {
        try (PointerScope micro = new PointerScope(); AutoGradMode gradMode = new AutoGradMode(true)) {
            AttentionContext ctx = batch.context(model);
            Tensor h = model.embed(batch.inputIdsTensor());
            for (DecoderLayer l : model.layers()) h = l.forward(h, ctx);
            HeadLoss.Result head = HeadLoss.lossAndGrad(model, h, batch.labelsTensor(), scale);
            if (h.requires_grad())
                torch.backward(new TensorVector(h), new TensorVector(head.gradHidden()), new BoolOptional(false), false, new TensorVector());
            return new Loss(head.nllSum(), head.tokens());
        }
    }
}
