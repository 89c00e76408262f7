package org.qoft4j.model;

import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.core.memory.NativeMemory;

/**
 * Runs decoder layers with the project's one scope policy (docs/DESIGN.md, "Memory policy"): evaluation, generation,
 * the recompute step's passes and the full-graph step all go through here.
 * <ul>
 *   <li>Without grad, each layer runs in a PointerScope of its own ({@link NativeMemory#scoped}): its transient
 *       tensors — on a 4-bit base, the dequantized weights; attention and MLP activations — are freed before the next
 *       layer starts, and only its output reaches the caller's scope. Otherwise the caller's scope would hold every
 *       layer's dequantized weights until it closes: the whole model in full precision.</li>
 *   <li>With grad, autograd keeps what backward needs anyway, so the layers run in the caller's scope.</li>
 *   <li>{@link #backward} recomputes one layer with grad in a scope of its own and backpropagates through it: only
 *       that layer's graph exists while it runs.</li>
 *   <li>{@link #forwardKeepingGraph} runs a layer with grad and keeps its graph (not its Java handles) until
 *       {@link #backwardKept}: for the top layers the recompute step does not recompute.</li>
 * </ul>
 */
public final class LayerRunner {
    /** What one layer computes on its input (a plain forward, or one that appends to a KV cache). */
    @FunctionalInterface
    public interface LayerForward {
        Tensor apply(DecoderLayer layer, Tensor input);
    }

    /** Called with each layer's index and input just before it runs. */
    @FunctionalInterface
    public interface BeforeLayer {
        void accept(int layer, Tensor input);

        BeforeLayer NONE = (i, x) -> {};
    }

    private LayerRunner() {}

    /** A layer run with grad on a leaf input of its own, its graph kept for {@link #backwardKept}. */
    public record KeptGraph(Tensor input, Tensor output) {}

    /** Layers {@code 0..n-1} on {@code hidden [B, T, D]}; returns the last layer's output {@code [B, T, D]}. */
    public static Tensor forward(LlamaModel m, Tensor hidden, LayerForward f, BeforeLayer before) {
        return forward(m, hidden, f, before, 0, m.numLayers());
    }

    /** Layers {@code from..to-1} on {@code hidden [B, T, D]} (the input of layer {@code from}); returns layer {@code to-1}'s output. */
    public static Tensor forward(LlamaModel m, Tensor hidden, LayerForward f, BeforeLayer before, int from, int to) {
        boolean scoped = !GradMode.is_enabled();
        Tensor h = hidden;
        for (DecoderLayer l : m.layers().subList(from, to)) {
            before.accept(l.index(), h);
            Tensor in = h;
            h = scoped ? NativeMemory.scoped(() -> f.apply(l, in)) : f.apply(l, in);
        }
        return h;
    }

    /**
     * Runs {@code layer} with grad (on a detached copy of {@code input} that requires grad, when {@code inputGrad})
     * and keeps its graph for {@link #backwardKept}: the layer the recompute step need not recompute because it keeps
     * what backward needs from the first pass. The layer's Java handles are freed here; the graph keeps what it saved.
     */
    public static KeptGraph forwardKeepingGraph(DecoderLayer layer, Tensor input, LayerForward f, boolean inputGrad) {
        Tensor x = inputGrad ? NativeMemory.scoped(() -> input.detach().set_requires_grad(true)) : input; // one handle in the caller's scope
        Tensor out = NativeMemory.scoped(() -> f.apply(layer, x));
        return new KeptGraph(x, out);
    }

    /**
     * Backpropagates {@code upstream} (d loss / d output) through a graph kept by {@link #forwardKeepingGraph},
     * freeing it, and returns d loss / d input {@code [B, T, D]} in the caller's scope (null unless {@code inputGrad}).
     */
    public static Tensor backwardKept(KeptGraph g, Tensor upstream, boolean inputGrad) {
        return NativeMemory.scoped(() -> {
            torch.backward(new TensorVector(g.output()), new TensorVector(upstream), new BoolOptional(false), false, new TensorVector());
            return inputGrad ? g.input().grad().detach() : null;
        });
    }

    /**
     * Recomputes {@code layer} with grad on {@code input} (its output was computed before without grad) and
     * backpropagates {@code upstream} (d loss / d output) through it, adding into the adapter tensors' {@code .grad}.
     *
     * @param inputGrad whether d loss / d input is wanted (false for the lowest adapted layer)
     * @return d loss / d input {@code [B, T, D]} in the caller's scope, or null when not wanted
     */
    public static Tensor backward(DecoderLayer layer, Tensor input, Tensor upstream, LayerForward f, boolean inputGrad) {
        return NativeMemory.scoped(() -> {
            Tensor x = inputGrad ? input.detach().set_requires_grad(true) : input;
            Tensor out = f.apply(layer, x);
            torch.backward(new TensorVector(out), new TensorVector(upstream), new BoolOptional(false), false, new TensorVector());
            return inputGrad ? x.grad().detach() : null; // grad() is a view into x's autograd data, which dies with this scope
        });
    }
}
