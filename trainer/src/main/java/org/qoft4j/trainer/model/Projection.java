package org.qoft4j.trainer.model;

import java.util.function.Function;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.oft.AdapterLayer;
import org.qoft4j.quant.linear.LinearLayer;

/**
 * One linear projection of a decoder layer ({@code model.layers.3.self_attn.q_proj}, ...): its frozen base
 * layer, and what forward runs — the base itself, or a replacement built around it: an {@link AdapterLayer}
 * ({@link #attach}) or anything with a forward ({@link #replace}).
 */
public final class Projection {
    /** What a projection computes: {@code [..., in] -> [..., out]}. */
    @FunctionalInterface
    public interface Forward {
        Tensor forward(Tensor x);
    }

    private final String path;
    private final LinearLayer base;
    private Forward current;
    private Object replacement;

    Projection(String path, LinearLayer base) {
        this.path = path;
        this.base = base;
        this.current = base::forward;
    }

    /** The Hugging Face module path, e.g. {@code model.layers.0.mlp.down_proj}. */
    public String path() {
        return path;
    }

    /** The frozen layer loaded from the checkpoint (dense or 4-bit). */
    public LinearLayer base() {
        return base;
    }

    public Tensor forward(Tensor x) {
        return current.forward(x);
    }

    /**
     * Runs {@code forwardOf(w)} instead of the base from now on, where {@code w = wrap.apply(base())}; returns
     * {@code w}. A projection holds at most one replacement: call {@link #restore()} first to change it.
     */
    public <W> W replace(Function<LinearLayer, W> wrap, Function<? super W, Forward> forwardOf) {
        if (replacement != null) throw new IllegalStateException(path + " is already replaced by " + replacement.getClass().getSimpleName());
        W w = wrap.apply(base);
        Forward f = forwardOf.apply(w);
        if (f == null) throw new IllegalArgumentException(path + ": the replacement has no forward");
        replacement = w;
        current = f;
        return w;
    }

    /** Runs {@code adapter} instead of the base; it must wrap this projection's base layer. Returns it. */
    public <A extends AdapterLayer> A attach(A adapter) {
        if (adapter.base() != base) throw new IllegalArgumentException(path + ": the adapter wraps a different base layer");
        return replace(b -> adapter, a -> a::forward);
    }

    /** The attached adapter, or null when the base runs (or the replacement is not an adapter). */
    public AdapterLayer adapter() {
        return replacement instanceof AdapterLayer a ? a : null;
    }

    /** The replacement given to {@link #replace}, or null while the base runs. */
    public Object replacement() {
        return replacement;
    }

    public boolean isReplaced() {
        return replacement != null;
    }

    /** Back to the base layer; returns the replacement that was removed (its owner closes it), or null. */
    public Object restore() {
        Object r = replacement;
        replacement = null;
        current = base::forward;
        return r;
    }
}
