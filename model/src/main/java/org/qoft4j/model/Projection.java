package org.qoft4j.model;

import org.bytedeco.pytorch.Tensor;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.quant.linear.LinearLayer;

/**
 * One linear projection of a decoder layer ({@code model.layers.3.self_attn.q_proj}, ...): its frozen base layer and,
 * when one is attached, the adapter that runs instead of it (an {@link AdapterLayer} wraps the same base). Adapters
 * are attached and removed through {@link AdapterSet}.
 */
public final class Projection {
    private final String path;
    private final LinearLayer base;
    private AdapterLayer adapter; // runs instead of the base when attached

    Projection(String path, LinearLayer base) {
        this.path = path;
        this.base = base;
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
        return adapter != null ? adapter.forward(x) : base.forward(x);
    }

    /** Runs {@code adapter} instead of the base from now on; it must wrap this projection's base layer. Returns it. */
    <A extends AdapterLayer> A attach(A adapter) {
        if (adapter.base() != base) throw new IllegalArgumentException(path + ": the adapter wraps a different base layer");
        if (this.adapter != null) throw new IllegalStateException(path + " already has an adapter; remove it first");
        this.adapter = adapter;
        return adapter;
    }

    /** The attached adapter, or null while the base runs. */
    public AdapterLayer adapter() {
        return adapter;
    }

    /** Back to the base layer (the adapter's owner frees it). */
    void restore() {
        adapter = null;
    }
}
