package org.qoft4j.quant.int4;

import org.qoft4j.quant.kernel.Kernels;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.Int4Weight;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.linear.Quantizer;
import org.qoft4j.quant.ScopedTest;
import org.qoft4j.core.Tensors;

class Int4QuantizerTest extends ScopedTest {
    private static Int4Weight quantize(float[] x, long rows, long cols, int group) {
        return (Int4Weight) Quantizer.quantize(Tensors.of(x, rows, cols), QuantSpec.of(QuantType.INT4).withGroupSize(group));
    }

    private static long[] ints(org.bytedeco.pytorch.Tensor t) {
        return Tensors.toLongs(t);
    }

    /**
     * [8, 16], group 8. Row 0 group 0: [-1.5 .. 1.5 step 0.5, 6] -> scale 7.5/15 = 0.5, zero 3, q = [0..6, 15].
     * Row 1 group 0: 0, 0.5, .., 3.5 (no negative) -> widened to [-0.25, 3.5]: scale 0.25, zero 1, q = 1, 3, .., 15.
     * Every other group is all zero -> GPTQ's [-1, 1]: scale fp16(2/15) = 0.13330078, zero 8, q = 8.
     */
    @Test
    void goldenLayout() {
        float[] x = new float[8 * 16];
        float[] r0 = {-1.5f, -1f, -0.5f, 0f, 0.5f, 1f, 1.5f, 6f};
        System.arraycopy(r0, 0, x, 0, 8);
        for (int k = 0; k < 8; k++) x[16 + k] = 0.5f * k;
        try (Int4Weight w = quantize(x, 8, 16, 8)) {
            assertArrayEquals(new long[] {2, 8}, Tensors.shape(w.qweight()));
            long[] qw = ints(w.qweight());
            assertEquals(0xF6543210, (int) qw[0], "row 0, columns 0..7, low nibble first");
            assertEquals(0xFDB97531, (int) qw[1], "row 1");
            for (int o = 2; o < 8; o++) assertEquals(0x88888888, (int) qw[o]);
            for (int o = 0; o < 8; o++) assertEquals(0x88888888, (int) qw[8 + o], "columns 8..15 of row " + o);
            // stored zero - 1 (GPTQ v1): group 0 rows 0..7 -> 2, 0, 7, 7, 7, 7, 7, 7
            assertArrayEquals(new long[] {0x77777702, 0x77777777}, ints(w.qzeros()));
            float s8 = 0.13330078f;
            assertArrayEquals(new float[] {0.5f, 0.25f, s8, s8, s8, s8, s8, s8, s8, s8, s8, s8, s8, s8, s8, s8},
                    Tensors.toFloats(w.scales()));
            assertEquals(ScalarType.Half, Tensors.dtype(w.scales()));
            float[] d = Tensors.toFloats(Kernels.dequantize(w, ScalarType.Float));
            assertArrayEquals(x, d, "these values are exactly representable");
            assertEquals(8 * 16 / 2 + 2 * 4 + 16 * 2, w.storageBytes());
        }
    }

    @Test
    void roundTripErrorIsAtMostHalfAStep() {
        Random rnd = new Random(4);
        int rows = 64, cols = 512;
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian() * ((i / cols) % 3 == 0 ? 0.02f : 1f);
        for (int i = 5 * cols; i < 5 * cols + 128; i++) x[i] = Math.abs(x[i]);  // a non-negative group
        for (int group : new int[] {32, 128}) {
            try (Int4Weight w = quantize(x, rows, cols, group)) {
                float[] d = Tensors.toFloats(Kernels.dequantize(w, ScalarType.Float));
                float[] sc = Tensors.toFloats(w.scales()); // [cols/group, rows]
                long[] qz = ints(w.qzeros());
                double sum = 0;
                for (int o = 0; o < rows; o++)
                    for (int i = 0; i < cols; i++) {
                        float s = sc[(i / group) * rows + o];
                        float err = Math.abs(x[o * cols + i] - d[o * cols + i]);
                        assertTrue(err <= 0.51f * s, "error " + err + " > half step " + s / 2 + " at [" + o + ", " + i + "]");
                        sum += err / s;
                    }
                assertEquals(0.25, sum / x.length, 0.02, "mean error is a quarter step for uniform rounding");
                for (long word : qz)
                    for (int j = 0; j < 8; j++) assertTrue(((word >>> (4 * j)) & 15) != 15, "zero 0 is never stored (it would read as 16)");
                // the non-negative group of row 5 gets zero 1: stored 0
                assertEquals(0, (qz[0 * (rows / 8) + 5 / 8] >>> (4 * (5 % 8))) & 15);
            }
        }
    }

    @Test
    void bf16InputQuantizesAsItsValues() {
        Random rnd = new Random(8);
        float[] x = new float[16 * 256];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        org.bytedeco.pytorch.Tensor bf = Tensors.of(x, 16, 256).to(ScalarType.BFloat16);
        try (Int4Weight a = (Int4Weight) Quantizer.quantize(bf, QuantSpec.of(QuantType.INT4));
             Int4Weight b = (Int4Weight) Quantizer.quantize(bf.to(ScalarType.Float), QuantSpec.of(QuantType.INT4))) {
            assertEquals(ScalarType.BFloat16, a.originalDtype());
            assertArrayEquals(ints(b.qweight()), ints(a.qweight()));
            assertArrayEquals(ints(b.qzeros()), ints(a.qzeros()));
            assertArrayEquals(Tensors.toFloats(b.scales()), Tensors.toFloats(a.scales()));
        }
    }

    /** fp16 rounding of the scales agrees with libtorch's conversion, subnormals and ties included. */
    @Test
    void roundToHalfMatchesTorch() {
        Random rnd = new Random(2);
        float[] v = new float[200_000];
        for (int i = 0; i < v.length; i++) {
            float m = (float) Math.pow(2, rnd.nextInt(46) - 30);
            v[i] = (rnd.nextFloat() * 2 - 1) * m;
            if (i % 10 == 0) v[i] = Float.intBitsToFloat(Float.floatToRawIntBits(v[i]) & ~0xFFF | 0x1000); // exact ties
        }
        float[] expected = Tensors.toFloats(Tensors.of(v, v.length).to(ScalarType.Half));
        for (int i = 0; i < v.length; i++) assertEquals(expected[i], Int4Quantizer.roundToHalf(v[i]), "at " + v[i]);
        assertEquals(Float.POSITIVE_INFINITY, Int4Quantizer.roundToHalf(70000f));
        assertEquals(65504f, Int4Quantizer.roundToHalf(65519f));
    }
}
