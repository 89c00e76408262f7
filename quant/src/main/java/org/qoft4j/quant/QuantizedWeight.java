package org.qoft4j.quant;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.kernel.Kernels;

/**
 * A frozen weight {@code [rows = out_features, cols = in_features]} stored in 4 bits. Immutable: the
 * tensors it holds are never modified after construction. It owns them (they are retained beyond any
 * PointerScope) until {@link #close()}.
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

    /** A new {@code [rows, cols]} tensor in {@code dtype}, dequantized by the current kernel ({@link Kernels#dequantizer()}). */
    default Tensor dequantize(ScalarType dtype) {
        return Kernels.dequantize(this, dtype);
    }

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
