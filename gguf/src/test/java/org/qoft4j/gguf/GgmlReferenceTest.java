package org.qoft4j.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Our encoders against ggml itself, byte for byte: the prebuilt {@code libggml-base.so} that llama.cpp runs (from
 * node-llama-cpp) is loaded through JNA and asked to quantize the same rows with {@code ggml_quantize_chunk} — what
 * {@code llama-quantize} calls, which for these types without an importance matrix is {@code quantize_row_*_ref} —
 * and to convert with {@code ggml_fp32_to_fp16_row} / {@code ggml_fp32_to_bf16_row}. Rows are random at many
 * scales plus the edge cases (all zero, constant, one outlier, tiny and huge magnitudes, exact ties, NaN-free).
 * Then ggml's own {@code dequantize_row_*} decodes our bytes and must give exactly our decoder's floats. Skips when
 * node-llama-cpp is not installed ({@link NodeLlamaCpp}).
 */
class GgmlReferenceTest {
    interface Ggml extends Library {
        long ggml_quantize_chunk(int type, float[] src, byte[] dst, long start, long nrows, long nPerRow, Pointer imatrix);

        void ggml_fp32_to_fp16_row(float[] x, short[] y, long n);

        void ggml_fp32_to_bf16_row(float[] x, short[] y, long n);

        void dequantize_row_q8_0(byte[] x, float[] y, long k);

        void dequantize_row_q4_0(byte[] x, float[] y, long k);

        void dequantize_row_q5_0(byte[] x, float[] y, long k);

        void dequantize_row_q4_K(byte[] x, float[] y, long k);

        void dequantize_row_q6_K(byte[] x, float[] y, long k);

        void ggml_fp16_to_fp32_row(short[] x, float[] y, long n);
    }

    static Ggml ggml;

    @BeforeEach // per test, so that each skip is reported with its reason
    void load() {
        Path lib = NodeLlamaCpp.ggmlBase().orElse(null);
        Assumptions.assumeTrue(lib != null, NodeLlamaCpp::missingReason);
        if (ggml == null) ggml = Native.load(lib.toString(), Ggml.class);
    }

    /** 64 rows of 512 values: random rows at scales 1e-6..1e4 and rows built to hit the edge cases of each format. */
    static float[][] rows() {
        Random r = new Random(15);
        int n = 512;
        float[][] rows = new float[64][n];
        for (int i = 0; i < rows.length; i++) {
            float scale = (float) Math.pow(10, -6 + (i % 11));
            for (int j = 0; j < n; j++) rows[i][j] = (float) (r.nextGaussian() * scale);
        }
        Arrays.fill(rows[0], 0f);                                            // all zero
        Arrays.fill(rows[1], 0.37f);                                         // constant, positive
        Arrays.fill(rows[2], -2.5f);                                         // constant, negative
        rows[3][100] = 1000f;                                                // one outlier in a small row
        for (int j = 0; j < n; j++) rows[4][j] = (j % 17) - 8;               // integers: exact ties after scaling
        for (int j = 0; j < n; j++) rows[5][j] = (j % 2 == 0 ? 1 : -1) * (j % 32) * 0.5f; // half-integers, both signs
        for (int j = 0; j < n; j++) rows[6][j] = j < 256 ? 0f : (float) r.nextGaussian(); // a zero super-block, then data
        for (int j = 0; j < n; j++) rows[7][j] = (float) Math.abs(r.nextGaussian());      // all positive (q4_K min = 0)
        for (int j = 0; j < n; j++) rows[8][j] = (float) -Math.abs(r.nextGaussian());     // all negative
        for (int j = 0; j < n; j++) rows[9][j] = (float) (r.nextGaussian() * 1e-30);      // subnormal-range halves
        for (int j = 0; j < n; j++) rows[10][j] = (float) (r.nextGaussian() * 7e4);        // beyond fp16's range
        for (int j = 0; j < n; j++) rows[11][j] = j % 16 == 0 ? 3f : 0f;                 // sparse
        return rows;
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0", "Q5_0", "Q4_K", "Q6_K"})
    void blockQuantizersMatchGgmlByteForByte(GgmlType type) {
        float[][] rows = rows();
        int n = rows[0].length;
        int mismatched = 0;
        String first = null;
        for (int i = 0; i < rows.length; i++) {
            byte[] ours = GgmlCodec.encode(type, rows[i], 0, n);
            byte[] theirs = new byte[ours.length];
            long written = ggml.ggml_quantize_chunk(type.id(), rows[i], theirs, 0, 1, n, null);
            assertEquals(ours.length, written, type + ": row size");
            if (!Arrays.equals(ours, theirs)) {
                mismatched++;
                if (first == null) first = "row " + i + ": first differing byte " + Arrays.mismatch(ours, theirs);
            }
            // ggml decodes our bytes to exactly what our decoder gives
            float[] ggmlDecoded = new float[n], ourDecoded = new float[n];
            dequantize(type, ours, ggmlDecoded, n);
            GgmlCodec.decode(type, ByteBuffer.wrap(ours), ourDecoded, 0, n);
            assertArrayEquals(ggmlDecoded, ourDecoded, 0f, type + ": decoding row " + i);
        }
        assertEquals(0, mismatched, type + ": " + mismatched + " of " + rows.length + " rows differ from ggml (" + first + ")");
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "BF16"})
    void halfConversionsMatchGgml(GgmlType type) {
        Random r = new Random(7);
        float[] x = new float[200_000];
        for (int i = 0; i < x.length; i++) x[i] = Float.intBitsToFloat(r.nextInt()); // every exponent, NaNs and infinities included
        x[0] = 65520f;      // rounds to infinity in fp16
        x[1] = 65519.996f;  // rounds to the largest half
        x[2] = 5.9604645E-8f / 2; // exactly half the smallest subnormal half: a tie, to even (zero)
        x[3] = -0f;
        short[] theirs = new short[x.length];
        if (type == GgmlType.F16) ggml.ggml_fp32_to_fp16_row(x, theirs, x.length);
        else ggml.ggml_fp32_to_bf16_row(x, theirs, x.length);
        ByteBuffer ours = ByteBuffer.wrap(GgmlCodec.encode(type, x, 0, x.length)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < x.length; i++)
            assertEquals(theirs[i], ours.getShort(), type + " of " + x[i] + " (bits " + Integer.toHexString(Float.floatToRawIntBits(x[i])) + ")");
        if (type == GgmlType.F16) {
            short[] all = new short[1 << 16];
            for (int i = 0; i < all.length; i++) all[i] = (short) i;
            float[] back = new float[all.length];
            ggml.ggml_fp16_to_fp32_row(all, back, all.length);
            for (int i = 0; i < all.length; i++)
                assertEquals(Float.floatToRawIntBits(back[i]), Float.floatToRawIntBits(Fp16.toFloat(all[i])), "fp16 0x" + Integer.toHexString(i));
        }
    }

    private static void dequantize(GgmlType type, byte[] bytes, float[] out, int n) {
        switch (type) {
            case Q8_0 -> ggml.dequantize_row_q8_0(bytes, out, n);
            case Q4_0 -> ggml.dequantize_row_q4_0(bytes, out, n);
            case Q5_0 -> ggml.dequantize_row_q5_0(bytes, out, n);
            case Q4_K -> ggml.dequantize_row_q4_K(bytes, out, n);
            case Q6_K -> ggml.dequantize_row_q6_K(bytes, out, n);
            default -> throw new IllegalArgumentException(type.toString());
        }
    }
}
