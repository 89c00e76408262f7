package org.qoft4j.model;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.QuantSpec;

/**
 * How to materialize a model.
 *
 * @param device where weights and activations live ({@code cpu} or {@code cuda})
 * @param dtype  compute dtype of activations and of full-precision weights: Float (CPU default), BFloat16, Half, or
 *               Double (exact checks against references)
 * @param quant  how linear layers are quantized on load, or null to keep them in full precision ({@code --quant none});
 *               ignored for checkpoints that are already 4-bit, which are adopted as stored
 */
public record LoadOptions(Device device, ScalarType dtype, QuantSpec quant) {
    public LoadOptions {
        dtype = dtype.intern();
        if (dtype != ScalarType.Float && dtype != ScalarType.BFloat16 && dtype != ScalarType.Half && dtype != ScalarType.Double)
            throw new IllegalArgumentException("compute dtype must be float32, bfloat16, float16 or float64, got " + dtype);
    }

    /** fp32 on CPU, no quantization. */
    public static LoadOptions cpu() {
        return new LoadOptions(new Device("cpu"), ScalarType.Float, null);
    }

    public LoadOptions withQuant(QuantSpec q) {
        return new LoadOptions(device, dtype, q);
    }

    public LoadOptions withDtype(ScalarType d) {
        return new LoadOptions(device, d, quant);
    }

    public LoadOptions withDevice(Device d) {
        return new LoadOptions(d, dtype, quant);
    }
}
