package org.qoft4j.quant.linear;

import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.WeightChunks;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.quant.int4.Int4Quantizer;
import org.qoft4j.quant.nf4.Bnb4bitQuantizer;

/**
 * Quantizes a full-precision weight {@code [out_features, in_features]} (bf16, fp16 or fp32, on CPU or CUDA)
 * into a {@link QuantizedWeight} on the same device: NF4/FP4 in the bitsandbytes layout
 * ({@link Bnb4bitQuantizer}), INT4 in the GPTQ layout ({@link Int4Quantizer}). The weight is read in
 * bounded runs, so peak extra memory is the packed result plus a few MiB. The input is not modified.
 * NaN or infinite elements, a non-2-D shape or an unsupported dtype raise {@link IllegalArgumentException}.
 */
public final class Quantizer {
    private Quantizer() {}

    public static QuantizedWeight quantize(Tensor weight, QuantSpec spec) {
        return quantize("weight", weight, spec);
    }

    /** As {@link #quantize(Tensor, QuantSpec)}; {@code name} (e.g. the checkpoint key) appears in error messages. */
    public static QuantizedWeight quantize(String name, Tensor weight, QuantSpec spec) {
        if (spec == null) throw new IllegalArgumentException("no quantization spec given for '" + name + "'");
        WeightChunks chunks = new WeightChunks(name, weight);
        if (spec.type() == QuantType.INT4)
            return Int4Quantizer.quantize(chunks, weight.scalar_type().intern(), weight.device(), spec.groupSize());
        return Bnb4bitQuantizer.quantize(chunks, weight.scalar_type().intern(), weight.device(), spec);
    }
}
