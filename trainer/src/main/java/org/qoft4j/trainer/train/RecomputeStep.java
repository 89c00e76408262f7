package org.qoft4j.trainer.train;

import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.trainer.data.Batch;
import org.qoft4j.trainer.model.AttentionContext;
import org.qoft4j.trainer.model.LlamaModel;

/**
 * One micro-batch with layer-wise recomputation (gradient checkpointing per decoder layer; DESIGN.md, "How a
 * training step flows"). The presets cannot define custom autograd functions, so plain autograd would keep every
 * layer's dequantized weight alive until backward; here at most one layer's graph exists at a time:
 * <ol>
 *   <li>a forward pass without grad that keeps each decoder layer's input, and nothing else;</li>
 *   <li>the loss and its gradient with respect to the last hidden state ({@link HeadLoss});</li>
 *   <li>from the top layer down: re-run layer i with grad on its detached input, backward from the upstream
 *       gradient, and take the input's gradient as the next upstream.</li>
 * </ol>
 * Each layer runs inside its own PointerScope, so its activations and dequantized weights are freed when it
 * ends; a layer's saved input is freed once its backward is done. The default generators are replayed per layer,
 * so the recomputation draws the same dropout masks as the first forward.
 */
public final class RecomputeStep implements BackwardPass {
    private final LlamaModel model;
    private final RngState rng;

    public RecomputeStep(LlamaModel model, RngState rng) {
        this.model = model;
        this.rng = rng;
    }

    @Override
    public Loss run(Batch batch, double scale) {
        int n = model.numLayers();
        int lowest = BackwardPass.lowestAdaptedLayer(model);
        try (PointerScope micro = new PointerScope(); AutoGradMode gradMode = new AutoGradMode(true)) {
            AttentionContext ctx = batch.context(model);
            Tensor[] inputs = new Tensor[n];
            RngState.Snapshot[] rngBefore = new RngState.Snapshot[n];

            // 1. forward without grad, keeping only each layer's input
            Tensor h;
            try (NoGradGuard noGrad = new NoGradGuard()) {
                h = model.embed(batch.inputIdsTensor());
                for (int i = 0; i < n; i++) {
                    int layer = i;
                    Tensor in = h;
                    inputs[i] = in;
                    rngBefore[i] = rng.capture();
                    h = inOwnScope(micro, () -> model.layer(layer).forward(in, ctx));
                }
            }
            RngState.Snapshot afterForward = rng.capture();

            // 2. loss and d loss / d last hidden
            HeadLoss.Result head = HeadLoss.lossAndGrad(model, h, batch.labelsTensor(), scale);
            Tensor upstream = head.gradHidden();

            // 3. top layer down: recompute with grad, backward, pass the input gradient down
            for (int i = n - 1; i >= lowest; i--) {
                int layer = i;
                boolean passDown = i > lowest;
                Tensor in = inputs[i], grad = upstream;
                rng.restore(rngBefore[i]);
                upstream = inOwnScope(micro, () -> {
                    Tensor x = passDown ? in.detach().set_requires_grad(true) : in;
                    Tensor out = model.layer(layer).forward(x, ctx);
                    torch.backward(new TensorVector(out), new TensorVector(grad), new BoolOptional(false), false, new TensorVector());
                    return passDown ? x.grad().detach() : null; // grad() is a view into x's autograd data, which dies with this scope
                });
                micro.detach(in); // this layer's saved input is no longer needed
                micro.detach(grad);
            }
            rng.restore(afterForward);
            return new Loss(head.nllSum(), head.tokens());
        }
    }

    /** Runs {@code body} in a scope of its own: everything it allocates is freed on return except its result, which {@code keeper} then owns. */
    private static Tensor inOwnScope(PointerScope keeper, Supplier<Tensor> body) {
        try (PointerScope own = new PointerScope()) {
            Tensor t = body.get();
            if (t != null) keeper.attach(t);
            return t;
        }
    }
}
