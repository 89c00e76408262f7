package org.qoft4j.trainer;

import java.util.function.IntConsumer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.core.memory.NativeMemory;
import org.qoft4j.data.Batch;
import org.qoft4j.model.AttentionContext;
import org.qoft4j.model.LayerRunner;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.NextTokenLoss;

/**
 * One micro-batch with layer-wise recomputation (gradient checkpointing per decoder layer; docs/DESIGN.md, "One
 * training step"). The presets cannot define custom autograd functions, so plain autograd would keep every layer's
 * dequantized weight alive until backward; here at most one layer's graph exists at a time:
 * <ol>
 *   <li>a forward pass without grad that keeps each decoder layer's input, and nothing else;</li>
 *   <li>the loss and its gradient with respect to the last hidden state ({@link NextTokenLoss#valueAndGrad});</li>
 *   <li>from the top layer down: re-run layer i with grad on its detached input, backward from the upstream
 *       gradient, and take the input's gradient as the next upstream ({@link LayerRunner#backward}).</li>
 * </ol>
 * The top layers keep the graph of their first pass instead ({@link KeptLayers}, option {@code memory-budget}): at
 * least the top one, whose graph is the first backward needs, so keeping it costs no peak. With {@code lean} on the
 * CPU, freed memory goes back to the operating system after each layer's backward ({@code malloc_trim}): glibc
 * otherwise keeps a freed graph's pages resident as holes the next layer does not fill, which on the 2048-wide
 * bench model raised the peak by ~190 MiB; the pages come back as page faults, ~14 % of the step.
 * Layers run with {@link LayerRunner}'s scope policy, so each layer's activations and dequantized weights are freed
 * when it ends; a layer's saved input is freed once its backward is done. The default generators are replayed per
 * layer, so the recomputation draws the same dropout masks as the first forward.
 */
public final class RecomputeStep implements BackwardPass {
    private final LlamaModel model;
    private final RngState rng;
    private final KeptLayers kept;
    private final boolean trim;

    /** Every layer recomputed but the top one. */
    public RecomputeStep(LlamaModel model, RngState rng) {
        this(model, rng, KeptLayers.lean(model));
    }

    RecomputeStep(LlamaModel model, RngState rng, KeptLayers kept) {
        this.model = model;
        this.rng = rng;
        this.kept = kept;
        this.trim = kept.returnsFreedMemory() && !model.device().is_cuda(); // the C heap is the CPU's peak, not CUDA's
    }

    @Override
    public Loss run(Batch batch, double scale, IntConsumer layerDone) {
        long[] tokens = new long[1];
        Tensor nll = NativeMemory.scoped(() -> inMicroBatchScope(batch, scale, tokens, layerDone)); // the micro-batch's tensors die with it
        return new Loss(nll, tokens[0]);
    }

    private Tensor inMicroBatchScope(Batch batch, double scale, long[] tokens, IntConsumer layerDone) {
        int n = model.numLayers();
        int lowest = BackwardPass.lowestAdaptedLayer(model);
        int keepFrom = Math.max(lowest, n - kept.layers(batch.size(), batch.length())); // layers keepFrom..n-1 keep their graph from the first pass
        PointerScope micro = PointerScope.getInnerScope();
        try (AutoGradMode gradMode = new AutoGradMode(true)) {
            AttentionContext ctx = BackwardPass.context(model, batch);
            LayerRunner.LayerForward layer = (l, x) -> l.forward(x, ctx);
            Tensor[] inputs = new Tensor[n];
            RngState.Snapshot[] rngBefore = new RngState.Snapshot[n];
            LayerRunner.KeptGraph[] graphs = new LayerRunner.KeptGraph[n];

            // 1. forward without grad, keeping only each layer's input; the top layers with grad, keeping their graph
            Tensor h;
            try (NoGradGuard noGrad = new NoGradGuard()) {
                h = LayerRunner.forward(model, model.embed(batch.inputIds()), layer, (i, in) -> {
                    inputs[i] = in;
                    rngBefore[i] = rng.capture();
                }, 0, keepFrom);
            }
            for (int i = keepFrom; i < n; i++) {
                Tensor in = h;
                int at = i;
                graphs[i] = i == n - 1 ? kept.measureTop(() -> LayerRunner.forwardKeepingGraph(model.layer(at), in, layer, at > lowest),
                        batch.size(), batch.length())
                        : LayerRunner.forwardKeepingGraph(model.layer(i), in, layer, i > lowest);
                inputs[i] = in;
                h = graphs[i].output();
            }
            RngState.Snapshot afterForward = rng.capture();

            // 2. loss and d loss / d last hidden
            NextTokenLoss.WithGrad head = NextTokenLoss.valueAndGrad(model, h, batch.labels(), scale);
            Tensor upstream = head.gradHidden();

            // 3. top layer down: backward through the kept graphs, then recompute with grad, backward, pass the input gradient down
            for (int i = n - 1; i >= lowest; i--) {
                Tensor in = inputs[i], grad = upstream;
                if (graphs[i] != null) {
                    upstream = LayerRunner.backwardKept(graphs[i], grad, i > lowest);
                    if (graphs[i].input() != in) micro.detach(graphs[i].input());
                    micro.detach(graphs[i].output()); // the layer above's input: its iteration left it for this one
                    if (i == keepFrom) micro.detach(in);
                } else {
                    rng.restore(rngBefore[i]);
                    upstream = LayerRunner.backward(model.layer(i), in, grad, layer, i > lowest);
                    micro.detach(in); // this layer's saved input is no longer needed
                }
                micro.detach(grad);
                if (trim) NativeMemory.releaseFreed(); // lean: the layer's freed graph leaves the process, not a resident hole
                layerDone.accept(i); // its adapter gradients are final for this micro-batch: a data-parallel run sends them now
            }
            rng.restore(afterForward);
            tokens[0] = head.tokens();
            return head.nll();
        }
    }
}
