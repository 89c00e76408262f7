package org.qoft4j.quant;

import org.qoft4j.core.Tensors;
import org.qoft4j.quant.linear.Quantizer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

class QuantizerBadInputTest extends ScopedTest {
    @Test
    void wrongDimensions() {
        fails("must be 2-D", () -> Quantizer.quantize("l.weight", Tensors.of(new float[64], 64), QuantSpec.nf4()));
        fails("must be 2-D", () -> Quantizer.quantize("l.weight", Tensors.of(new float[64], 2, 4, 8), QuantSpec.nf4()));
        fails("empty", () -> Quantizer.quantize("l.weight", Tensors.of(new float[0], 0, 8), QuantSpec.nf4()));
    }

    @Test
    void unsupportedDtype() {
        fails("Double", () -> Quantizer.quantize(Tensors.of(new double[64], 8, 8), QuantSpec.nf4()));
        fails("Int", () -> Quantizer.quantize(Tensors.ofInts(new int[64], 8, 8), QuantSpec.nf4()));
    }

    @Test
    void nonFiniteWeightsNameTheElement() {
        for (QuantType t : QuantType.values())
            for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                float[] x = new float[16 * 128];
                x[3 * 128 + 5] = bad;
                Tensor w = Tensors.of(x, 16, 128);
                fails("[3, 5]", () -> Quantizer.quantize("model.q_proj.weight", w, QuantSpec.of(t)));
                fails("model.q_proj.weight", () -> Quantizer.quantize("model.q_proj.weight", w.to(ScalarType.BFloat16), QuantSpec.of(t)));
            }
    }

    @Test
    void unsupportedBlocksizesAndGroups() {
        fails("blocksize 16", () -> QuantSpec.nf4().withBlocksize(16));
        fails("blocksize 48", () -> QuantSpec.nf4().withBlocksize(48));
        fails("blocksize 8192", () -> QuantSpec.nf4().withBlocksize(8192));
        fails("group size 12", () -> QuantSpec.of(QuantType.INT4).withGroupSize(12));
        fails("double quantization", () -> QuantSpec.of(QuantType.INT4).withDoubleQuant(true));
        // INT4's layout needs in_features divisible by the group and out_features by 8
        fails("divisible", () -> Quantizer.quantize(Tensors.of(new float[16 * 96], 16, 96), QuantSpec.of(QuantType.INT4)));
        fails("divisible", () -> Quantizer.quantize(Tensors.of(new float[12 * 128], 12, 128), QuantSpec.of(QuantType.INT4)));
    }
}
