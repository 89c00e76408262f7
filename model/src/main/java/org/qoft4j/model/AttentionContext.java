package org.qoft4j.model;

import org.bytedeco.pytorch.Tensor;

/**
 * What every decoder layer of one forward pass shares: the rotary cos/sin of each token's position and
 * which keys each query may attend to. Built once per batch by {@link LlamaModel#causalContext},
 * {@link LlamaModel#packedContext} or for generation; its tensors belong to the PointerScope it was built in.
 *
 * <p>The mask is boolean {@code [B, 1, T, S]} ({@code true} = may attend), or absent when a plain causal mask
 * ({@code causal}) or no mask at all (one new token against a KV cache) says the same thing more cheaply.
 */
public final class AttentionContext {
    private final Tensor cos;   // [B, 1, T, headDim]
    private final Tensor sin;   // [B, 1, T, headDim]
    private final Tensor mask;  // [B, 1, T, S] bool, or null
    private final boolean causal;
    private final int batch;
    private final int length;

    AttentionContext(Tensor cos, Tensor sin, Tensor mask, boolean causal, int batch, int length) {
        if (mask != null && causal) throw new IllegalArgumentException("an explicit mask and is_causal are exclusive");
        this.cos = cos;
        this.sin = sin;
        this.mask = mask;
        this.causal = causal;
        this.batch = batch;
        this.length = length;
    }

    public Tensor cos() {
        return cos;
    }

    public Tensor sin() {
        return sin;
    }

    /** The boolean attention mask, or null when {@link #causal()} or unrestricted. */
    public Tensor mask() {
        return mask;
    }

    /** True when a plain lower-triangular mask applies (no padding, one sequence per row, no cache). */
    public boolean causal() {
        return causal;
    }

    public int batch() {
        return batch;
    }

    /** Tokens per row in this pass (T). */
    public int length() {
        return length;
    }
}
