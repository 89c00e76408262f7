package org.qoft4j.quant.nf4;

import org.qoft4j.quant.kernel.Kernels;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.linear.Quantizer;
import org.qoft4j.core.Tensors;

/**
 * Mean absolute error of a 1024x1024 standard-normal matrix against bitsandbytes' reference numbers
 * ({@code nf4-format.md}): NF4 0.072798 (std 0.000074), FP4 0.096543 (std 0.000111), growing with blocksize.
 */
class QuantizationErrorTest {
    private static PointerScope scope;
    private static float[] a;
    private static Tensor weight;

    @BeforeAll
    static void matrix() {
        scope = new PointerScope();
        Random rnd = new Random(20261126);
        a = new float[1024 * 1024];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        weight = Tensors.of(a, 1024, 1024);
    }

    @AfterAll
    static void free() {
        scope.close();
    }

    /** [mean |a - d|, mean |a - d| / (|a| + 1e-8)] as bitsandbytes' tests compute them. */
    private static double[] errors(QuantSpec spec) {
        try (QuantizedWeight w = Quantizer.quantize(weight, spec); PointerScope s = new PointerScope()) {
            float[] d = Tensors.toFloats(Kernels.dequantize(w, ScalarType.Float));
            double abs = 0, rel = 0;
            for (int i = 0; i < a.length; i++) {
                double e = Math.abs(a[i] - d[i]);
                abs += e;
                rel += e / (Math.abs(a[i]) + 1e-8);
            }
            return new double[] {abs / a.length, rel / a.length};
        }
    }

    private static double meanAbsError(QuantSpec spec) {
        return errors(spec)[0];
    }

    @Test
    void nf4MatchesBitsandbytes() {
        double[] e = errors(QuantSpec.nf4());
        assertEquals(0.072798, e[0], 7 * 0.000074);
        assertEquals(0.2033, e[1], 0.002, "mean relative error");
    }

    @Test
    void fp4MatchesBitsandbytes() {
        double[] e = errors(QuantSpec.of(QuantType.FP4));
        assertEquals(0.096543, e[0], 7 * 0.000111);
        assertEquals(0.2601, e[1], 0.002, "mean relative error");
    }

    @Test
    void nf4ErrorGrowsWithBlocksize() {
        double[] expected = {0.0677, 0.0728, 0.0768, 0.0803}; // spec: blocksize 32, 64, 128, 256
        int[] bs = {32, 64, 128, 256};
        double prev = 0;
        for (int i = 0; i < bs.length; i++) {
            double e = meanAbsError(QuantSpec.nf4().withBlocksize(bs[i]));
            assertEquals(expected[i], e, 0.0006, "blocksize " + bs[i]);
            assertTrue(e > prev, "error must grow with blocksize: " + bs[i] + " gives " + e + " after " + prev);
            prev = e;
        }
    }

    @Test
    void doubleQuantizationKeepsNf4Error() {
        double e = meanAbsError(QuantSpec.nf4().withDoubleQuant(true));
        assertTrue(e < 0.075, "double-quantized NF4 error " + e);
        assertEquals(0.0729, e, 0.0006);
    }
}
