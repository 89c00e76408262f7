package org.qoft4j.quant;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A frozen weight {@code [rows = out_features, cols = in_features]} stored in 4 bits. Immutable: the
 * tensors it holds are never modified after construction. It owns them (they are retained beyond any
 * PointerScope) until {@link #close()}. Weights are data: the kernels in {@code org.qoft4j.quant.kernel} act on them
 * ({@code Kernels.dequantize(w, dtype)}).
 */
public sealed interface QuantizedWeight extends AutoCloseable permits Bnb4bitWeight, Int4Weight {
    QuantType type();

    /** out_features. */
    long rows();

    /** in_features. */
    long cols();

    /** The dtype of the weight before quantization (bnb's {@code quant_state.dtype}); the default dequantization dtype. */
    ScalarType originalDtype();

    /** Exact bytes of every tensor this weight holds (packed codes and all statistics). */
    long storageBytes();

    Device device();

    /** A copy of this weight on {@code device}. */
    QuantizedWeight to(Device device);

    default long numel() {
        return rows() * cols();
    }

    /** Bits per weight including statistics. */
    default double bitsPerWeight() {
        return storageBytes() * 8.0 / numel();
    }

    @Override
    void close();
}
