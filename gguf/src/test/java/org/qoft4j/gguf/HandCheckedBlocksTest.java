package org.qoft4j.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/**
 * Each block format on an input whose result can be worked out by hand (the derivation is in each test), compared
 * byte for byte. {@link GgmlReferenceTest} compares against ggml itself on random data when llama.cpp is installed;
 * these run everywhere.
 */
class HandCheckedBlocksTest {

    /** q8_0, largest magnitude 127 so d = 127 / 127 = 1 (fp16 0x3C00) and q = roundf(x): ties go away from zero. */
    @Test
    void q8_0() {
        float[] x = new float[32];
        for (int j = 0; j < 32; j++) x[j] = j * 4 - 64; // -64, -60, ..., 60
        x[0] = -127f;
        x[1] = 63.5f;   // roundf -> 64 (Math.round would also give 64)
        x[2] = -63.5f;  // roundf -> -64 (Math.round would give -63)
        x[3] = 0.49999997f; // -> 0
        byte[] expected = new byte[34];
        expected[0] = 0x00;
        expected[1] = 0x3C;
        for (int j = 0; j < 32; j++) expected[2 + j] = (byte) (j * 4 - 64);
        expected[2] = (byte) -127;
        expected[3] = 64;
        expected[4] = -64;
        expected[5] = 0;
        assertArrayEquals(expected, GgmlCodec.encode(GgmlType.Q8_0, x, 0, 32));
    }

    /**
     * q4_0, the value of largest magnitude is -8, so d = -8 / -8 = 1 (0x3C00) and q = min(15, trunc(x + 8.5)):
     * -8 -> 0, 7 -> 15, 7.9 -> 15 (16 clamped), 0.5 -> 9, -0.5 -> 8. Value j is the low nibble of byte j, value j + 16
     * the high nibble.
     */
    @Test
    void q4_0() {
        float[] x = new float[32];
        int[] q = new int[32];
        for (int j = 0; j < 32; j++) {
            x[j] = (j % 16) - 8;  // -8 .. 7
            q[j] = j % 16;
        }
        x[20] = 7.9f;
        q[20] = 15;
        x[21] = 0.5f;
        q[21] = 9;
        x[22] = -0.5f;
        q[22] = 8;
        byte[] expected = new byte[18];
        expected[1] = 0x3C;
        for (int j = 0; j < 16; j++) expected[2 + j] = (byte) (q[j] | (q[j + 16] << 4));
        assertArrayEquals(expected, GgmlCodec.encode(GgmlType.Q4_0, x, 0, 32));
    }

    /**
     * q5_0, largest magnitude 16 (positive), so d = 16 / -16 = -1 (0xBC00) and q = min(31, trunc(-x + 16.5)):
     * 16 -> 0, -15 -> 31. Bit 4 of q_j goes to bit j of qh (little-endian uint32), the low nibbles as in q4_0.
     */
    @Test
    void q5_0() {
        float[] x = new float[32];
        int[] q = new int[32];
        for (int j = 0; j < 32; j++) {
            x[j] = 16 - j;      // 16 .. -15
            q[j] = j;           // trunc(-(16 - j) + 16.5) = j
        }
        byte[] expected = new byte[22];
        expected[0] = 0x00;
        expected[1] = (byte) 0xBC;
        int qh = 0;
        for (int j = 0; j < 32; j++) qh |= ((q[j] >> 4) & 1) << j; // j >= 16 have bit 4 set: qh = 0xFFFF0000
        assertEquals(0xFFFF0000, qh);
        ByteBuffer.wrap(expected, 2, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(qh);
        for (int j = 0; j < 16; j++) expected[6 + j] = (byte) ((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
        assertArrayEquals(expected, GgmlCodec.encode(GgmlType.Q5_0, x, 0, 32));
    }

    /**
     * q4_K on a super-block where every sub-block holds all 16 levels (q - 8) * 0.5: the first fit is exact (scale 0.5,
     * min -4, zero error, which no trial beats), so every sub-block gets 6-bit scale and min 63 (all scale bytes
     * 0xFF: 63 with the high bits of the j+4 pairs, 3, on top), d = fp16(0.5 / 63) = 0x2010 (1040 / 1024 * 2^-7),
     * dmin = fp16(4 / 63) = 0x2C10, and the codes are the q themselves; per 64 values, byte l = q[l] | q[l + 32] << 4.
     */
    @Test
    void q4_K() {
        float[] x = new float[256];
        int[] q = new int[256];
        for (int j = 0; j < 256; j++) {
            q[j] = (j * 7 + j / 32) % 16; // every level in every 32-value sub-block, in a scrambled order
            x[j] = (q[j] - 8) * 0.5f;
        }
        byte[] expected = new byte[144];
        expected[0] = 0x10;
        expected[1] = 0x20;
        expected[2] = 0x10;
        expected[3] = 0x2C;
        for (int i = 0; i < 12; i++) expected[4 + i] = (byte) 0xFF;
        for (int j = 0, o = 16; j < 256; j += 64)
            for (int l = 0; l < 32; l++) expected[o++] = (byte) (q[j + l] | (q[j + l + 32] << 4));
        assertArrayEquals(expected, GgmlCodec.encode(GgmlType.Q4_K, x, 0, 256));
        float[] back = new float[256];
        GgmlCodec.decode(GgmlType.Q4_K, ByteBuffer.wrap(expected), back, 0, 256);
        for (int j = 0; j < 256; j++) assertEquals(x[j], back[j], 2e-3, "value " + j); // within fp16's rounding of d and dmin
    }

    /**
     * q6_K on values k / 16 with k in -32..31 in every 16-value sub-block: make_qx_quants' first try is exact
     * (scale 1/16), so all scales are equal; iscale = -128 / (1/16), every int8 scale is -128 (0x80) and
     * d = fp16(-1/2048) = 0x9000; the codes are k + 32. ql byte l of each 128 holds codes l and l + 64, byte l + 32
     * codes l + 32 and l + 96 (low nibbles); qh byte l holds the top 2 bits of codes l, l + 32, l + 64, l + 96.
     */
    @Test
    void q6_K() {
        float[] x = new float[256];
        int[] code = new int[256];
        for (int j = 0; j < 256; j++) {
            int k = j % 16 == 0 ? -32 : ((j * 11) % 64) - 32; // each sub-block starts at -32, the largest magnitude
            code[j] = k + 32;
            x[j] = k / 16f;
        }
        byte[] expected = new byte[210];
        for (int n = 0; n < 256; n += 128) {
            int qlo = n / 2, qho = 128 + n / 4;
            for (int l = 0; l < 32; l++) {
                expected[qlo + l] = (byte) ((code[n + l] & 0xF) | ((code[n + l + 64] & 0xF) << 4));
                expected[qlo + l + 32] = (byte) ((code[n + l + 32] & 0xF) | ((code[n + l + 96] & 0xF) << 4));
                expected[qho + l] = (byte) ((code[n + l] >> 4) | ((code[n + l + 32] >> 4) << 2) | ((code[n + l + 64] >> 4) << 4) | ((code[n + l + 96] >> 4) << 6));
            }
        }
        for (int i = 0; i < 16; i++) expected[192 + i] = (byte) 0x80;
        expected[208] = 0x00;
        expected[209] = (byte) 0x90;
        assertArrayEquals(expected, GgmlCodec.encode(GgmlType.Q6_K, x, 0, 256));
        float[] back = new float[256];
        GgmlCodec.decode(GgmlType.Q6_K, ByteBuffer.wrap(expected), back, 0, 256);
        assertArrayEquals(x, back, 0f);
    }

    /** fp16 and bf16 of values whose encodings are known: 1, -2, 65504 (largest half), 1/3 rounded, and a bf16 tie to even. */
    @Test
    void halves() {
        assertEquals((short) 0x3C00, Fp16.fromFloat(1f));
        assertEquals((short) 0xC000, Fp16.fromFloat(-2f));
        assertEquals((short) 0x7BFF, Fp16.fromFloat(65504f));
        assertEquals((short) 0x7C00, Fp16.fromFloat(65520f));   // halfway to the next binade: rounds to infinity
        assertEquals((short) 0x3555, Fp16.fromFloat(1f / 3));   // 0.333251953125
        assertEquals((short) 0x3F80, Fp16.bf16FromFloat(1f));
        assertEquals((short) 0x3F80, Fp16.bf16FromFloat(Float.intBitsToFloat(0x3F80_8000))); // tie: even (down)
        assertEquals((short) 0x3F82, Fp16.bf16FromFloat(Float.intBitsToFloat(0x3F81_8000))); // tie: even (up)
        assertEquals(1f / 3, Fp16.toFloat((short) 0x3555), 1e-4);
    }
}
