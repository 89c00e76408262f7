package org.qoft4j.quant.linear;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A frozen linear layer {@code y = x W^T + b}: the thing adapters wrap.
 * Implementations: {@link DenseLinear} (full-precision weight) and {@link QuantizedLinear} (4-bit
 * weight, dequantized on the fly). The weight never requires grad; gradients flow to {@code x} only.
 */
public interface LinearLayer {
    long inFeatures();

    long outFeatures();

    /** {@code x}: {@code [..., in]} in fp32 or bf16 (or fp16); returns {@code [..., out]} in x's dtype. */
    Tensor forward(Tensor x);

    /** A fresh full-precision copy of the weight, {@code [out, in]}, in {@code dtype}, on the layer's device. Caller owns it. */
    Tensor dequantizedWeight(ScalarType dtype);

    /** The bias {@code [out]}, or null when the layer has none. Owned by the layer: do not modify. */
    Tensor bias();

    /** Bytes the frozen weight occupies in memory (packed data and statistics for 4-bit; bias excluded). */
    long weightBytes();
}
