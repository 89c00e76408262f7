package org.qoft4j.trainer;

import java.util.function.IntConsumer;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.core.memory.NativeMemory;
import org.qoft4j.data.Batch;
import org.qoft4j.model.AttentionContext;
import org.qoft4j.model.LayerRunner;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.NextTokenLoss;

/**
 * One micro-batch with plain autograd over the whole model ({@code --no-recompute}). <b>Memory-hungry</b>: the
 * graph keeps every layer's activations and, for a 4-bit base, every layer's dequantized weight until backward.
 * For small models and as the reference {@link RecomputeStep} is tested against; the head and loss are the same
 * {@link NextTokenLoss}.
 */
public final class FullGraphStep implements BackwardPass {
    private final LlamaModel model;

    public FullGraphStep(LlamaModel model) {
        this.model = model;
    }

    @Override
    public Loss run(Batch batch, double scale, IntConsumer layerDone) {
        long[] tokens = new long[1];
        Tensor nll = NativeMemory.scoped(() -> { // the whole graph is freed when the micro-batch is done
            try (AutoGradMode gradMode = new AutoGradMode(true)) {
                AttentionContext ctx = BackwardPass.context(model, batch);
                Tensor h = LayerRunner.forward(model, model.embed(batch.inputIds()), (l, x) -> l.forward(x, ctx), LayerRunner.BeforeLayer.NONE);
                NextTokenLoss.WithGrad head = NextTokenLoss.valueAndGrad(model, h, batch.labels(), scale);
                if (h.requires_grad())
                    torch.backward(new TensorVector(h), new TensorVector(head.gradHidden()), new BoolOptional(false), false, new TensorVector());
                tokens[0] = head.tokens();
                return head.nll();  // no layer's gradients are final before the whole backward: layerDone is not called
            }
        });
        return new Loss(nll, tokens[0]);
    }
}
