package org.qoft4j.quant.kernel;

import org.bytedeco.pytorch.Tensor;
import org.qoft4j.quant.QuantizedWeight;

/**
 * A dequantization kernel. {@link ReferenceDequantizer} (libtorch ops, any device) is the spec made
 * executable; fast kernels (module {@code native}) must agree with it bit for bit.
 */
public interface Dequantizer {
    /** Short name for logs and benchmarks, e.g. "reference" or "native-avx512". */
    String name();

    /** Whether this kernel handles this weight into this output (type, dtype, device). */
    boolean supports(QuantizedWeight w, Tensor out);

    /**
     * Writes the dequantized weight into {@code out}: contiguous {@code [rows, cols]}, fp32/bf16/fp16, on
     * the weight's device. Arguments are validated before any native code runs.
     */
    void dequantize(QuantizedWeight w, Tensor out);
}
