package org.qoft4j.quant.nf4;

import org.qoft4j.quant.kernel.Kernels;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.linear.Quantizer;
import org.qoft4j.quant.ScopedTest;
import org.qoft4j.core.Tensors;

/** Hand-computed packed bytes and statistics for small inputs (nf4-format.md's rules, case by case). */
class Bnb4bitGoldenTest extends ScopedTest {
    private static final float[] NF4 = CodeTables.nf4();
    private static final float[] TH = CodeTables.nf4Thresholds();

    private static Bnb4bitWeight quantize(float[] x, long rows, long cols, QuantSpec spec) {
        return (Bnb4bitWeight) Quantizer.quantize(Tensors.of(x, rows, cols), spec);
    }

    private static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) v[i];
        return b;
    }

    private static byte[] fill(byte[] head, int total, int filler) {
        byte[] b = new byte[total];
        java.util.Arrays.fill(b, (byte) filler);
        System.arraycopy(head, 0, b, 0, head.length);
        return b;
    }

    @Test
    void nf4ValuesOnThresholdsNegativeZeroAndPacking() {
        float[] x = new float[32]; // one block, absmax 1 so s == x exactly
        x[0] = 1f;                     // 15
        x[1] = TH[0];                  // tie at the lowest threshold -> 0
        x[2] = Math.nextUp(TH[0]);     // 1
        x[3] = TH[7];                  // 7
        x[4] = Math.nextUp(TH[7]);     // 8
        x[5] = TH[14];                 // 14
        x[6] = Math.nextUp(TH[14]);    // 15
        x[7] = -0f;                    // 7
        x[8] = -1f;                    // 0
        x[9] = 0.5f;                   // 12 (0.3893 < 0.5 <= 0.5017)
        try (Bnb4bitWeight w = quantize(x, 1, 32, QuantSpec.nf4().withBlocksize(32))) {
            byte[] expected = fill(bytes(0xF0, 0x17, 0x8E, 0xF7, 0x0C), 16, 0x77);
            assertArrayEquals(expected, Tensors.toBytes(w.packed()));
            assertArrayEquals(new long[] {16, 1}, Tensors.shape(w.packed()));
            assertArrayEquals(new float[] {1f}, Tensors.toFloats(w.absmax()));
            assertArrayEquals(NF4, Tensors.toFloats(w.quantMap()));
            assertEquals(ScalarType.Float, w.originalDtype());
            assertNull(w.nested());
        }
    }

    @Test
    void fp4LiteralRuleSignAndNegativeZero() {
        float[] x = new float[32];
        x[0] = 1f;                          // 0b0011
        x[1] = -0f;                         // +0 -> 0
        x[2] = 0.29166667f;                 // at the literal: lower branch, 0b111
        x[3] = Math.nextUp(0.29166667f);    // 0b100
        x[4] = -0.5f;                       // 8 | 0b101
        x[5] = 0.001f;                      // below 0.00260417: 0
        x[6] = -0.001f;                     // sign only: 8
        x[7] = 0.25f;                       // 0b111
        try (Bnb4bitWeight w = quantize(x, 1, 32, QuantSpec.of(QuantType.FP4).withBlocksize(32))) {
            assertArrayEquals(fill(bytes(0x30, 0x74, 0xD0, 0x87), 16, 0x00), Tensors.toBytes(w.packed()));
            assertArrayEquals(CodeTables.fp4(), Tensors.toFloats(w.quantMap()));
        }
    }

    /** [1, 69] at blocksize 32: an all-zero block, a full block, and a short odd block padded with a zero element. */
    @Test
    void allZeroBlockShortLastBlockAndOddLength() {
        float[] x = new float[69];
        x[32] = -2f;   // absmax 2: s = -1 -> 0
        x[33] = 1f;    // s = 0.5 -> 12
        x[64] = 0.25f; // absmax 0.5, s = 0.5 -> 12
        x[65] = -0.125f; // s = -0.25 -> 4
        x[66] = 0.0625f; // s = 0.125 -> 9
        x[67] = 0.5f;  // 15
        x[68] = -0.5f; // 0, then the pad element 0.0 -> 7
        try (Bnb4bitWeight w = quantize(x, 1, 69, QuantSpec.nf4().withBlocksize(32))) {
            byte[] expected = new byte[35];
            java.util.Arrays.fill(expected, 0, 32, (byte) 0x77);
            expected[16] = 0x0C;
            expected[32] = (byte) 0xC4;
            expected[33] = (byte) 0x9F;
            expected[34] = 0x07;
            assertArrayEquals(expected, Tensors.toBytes(w.packed()));
            assertArrayEquals(new float[] {0f, 2f, 0.5f}, Tensors.toFloats(w.absmax()));
            float[] d = Tensors.toFloats(Kernels.dequantize(w, ScalarType.Float));
            for (int i = 0; i < 32; i++) assertEquals(0, Float.floatToRawIntBits(d[i]), "all-zero block dequantizes to +0.0 at " + i);
            for (float v : d) assertFalse(Float.isNaN(v));
            assertEquals(-2f, d[32]);
            assertEquals(NF4[12] * 2f, d[33]);
            assertEquals(NF4[4] * 0.5f, d[65]);
            assertEquals(NF4[9] * 0.5f, d[66]);
            assertEquals(-0.5f, d[68]);
        }
    }

    @Test
    void oddCountAcrossRowsWithBlocksizeNotDividingRows() {
        // [3, 25]: n = 75, blocks of 64 cross the row boundary; the last block has 11 elements
        float[] x = new float[75];
        for (int i = 0; i < 75; i++) x[i] = (i % 7) - 3; // -3..3
        try (Bnb4bitWeight w = quantize(x, 3, 25, QuantSpec.nf4())) {
            assertEquals(2, w.nblocks());
            assertArrayEquals(new float[] {3f, 3f}, Tensors.toFloats(w.absmax()));
            byte[] p = Tensors.toBytes(w.packed());
            assertEquals(38, p.length);
            // s = x/3 in {-1, -2/3, -1/3, 0, 1/3, 2/3, 1} -> codes {0, 1, 4, 7, 11, 14, 15}
            int[] code = {0, 1, 4, 7, 11, 14, 15};
            for (int i = 0; i < 75; i++) {
                int c = i % 2 == 0 ? (p[i / 2] >> 4) & 15 : p[i / 2] & 15;
                assertEquals(code[i % 7], c, "element " + i);
            }
            assertEquals(7, p[37] & 15, "pad nibble of the odd count is a quantized 0.0");
        }
    }

    /**
     * Double quantization of four block absmaxes 1, 2, 3, 6: offset = mean = 3; v = absmax - 3 = [-2, -1, 0, 3];
     * nested absmax 3; v * (1/3) = [-0.6666667, -0.33333334, 0, 1] -> nearest map entries 23 (-0.66953), 47
     * (-0.33203125), 127 (0), 255 (1).
     */
    @Test
    void doubleQuantCodes() {
        float[] x = new float[128];
        x[0] = 1f;
        x[32] = -2f;
        x[64] = 3f;
        x[96] = 6f;
        try (Bnb4bitWeight w = quantize(x, 2, 64, QuantSpec.nf4().withBlocksize(32).withDoubleQuant(true))) {
            assertNotNull(w.nested());
            assertEquals(3f, w.nested().offset());
            assertEquals(256, w.nested().blocksize());
            assertArrayEquals(bytes(23, 47, 127, 255), Tensors.toBytes(w.absmax()));
            assertEquals(ScalarType.Byte, Tensors.dtype(w.absmax()));
            assertArrayEquals(new float[] {3f}, Tensors.toFloats(w.nested().absmax()));
            assertArrayEquals(DynamicMap8bit.values(), Tensors.toFloats(w.nested().quantMap()));
            assertEquals(-0.66953125f, DynamicMap8bit.value(23), 1e-7f);
            assertEquals(-0.33203125f, DynamicMap8bit.value(47));
            // the 4-bit codes use the exact absmax: each block is its max element (15 or 0) and zeros (7)
            byte[] expected = new byte[64];
            java.util.Arrays.fill(expected, (byte) 0x77);
            expected[0] = (byte) 0xF7;
            expected[16] = 0x07;
            expected[32] = (byte) 0xF7;
            expected[48] = (byte) 0xF7;
            assertArrayEquals(expected, Tensors.toBytes(w.packed()));
            // dequantization: map[code] * 3 + 3, then times the NF4 value
            float[] d = Tensors.toFloats(Kernels.dequantize(w, ScalarType.Float));
            assertEquals(DynamicMap8bit.value(23) * 3f + 3f, d[0]);
            assertEquals(-(DynamicMap8bit.value(47) * 3f + 3f), d[32]);
            assertEquals(3f, d[64]);
            assertEquals(6f, d[96]);
        }
    }

    /** Equal absmax everywhere: absmax - offset is all zero, nested absmax 0, every code 127 (0.0), no NaN. */
    @Test
    void doubleQuantOfEqualAbsmax() {
        float[] x = new float[96];
        for (int b = 0; b < 3; b++) x[b * 32 + 3] = b % 2 == 0 ? 0.75f : -0.75f;
        try (Bnb4bitWeight w = quantize(x, 3, 32, QuantSpec.nf4().withBlocksize(32).withDoubleQuant(true))) {
            assertEquals(0.75f, w.nested().offset());
            assertArrayEquals(new float[] {0f}, Tensors.toFloats(w.nested().absmax()));
            assertArrayEquals(bytes(127, 127, 127), Tensors.toBytes(w.absmax()));
            float[] d = Tensors.toFloats(Kernels.dequantize(w, ScalarType.Float));
            assertEquals(0.75f, d[3]);
            assertEquals(-0.75f, d[35]);
            assertEquals(0f, d[0]);
        }
    }
}
