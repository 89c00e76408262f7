package org.qoft4j.gguf;

import java.nio.ByteBuffer;

/**
 * ggml's {@code block_q5_0}: 32 values as {@code d} (fp16), {@code qh} (a little-endian uint32 holding bit 4 of value
 * j at bit j), then 16 bytes of low nibbles laid out as in q4_0; value = (q - 16) * d (22 bytes). Quantized as
 * {@code quantize_row_q5_0_ref}: d = (signed largest-magnitude value) / -16, q = min(31, trunc(x / d + 16.5)).
 * llama.cpp uses it where a q4_K tensor's rows are not a multiple of 256.
 */
final class Q5_0Block {
    static final int QK = 32;

    private Q5_0Block() {}

    static void quantize(float[] x, int xo, ByteBuffer out) {
        float max = Q4_0Block.signedAbsMax(x, xo); // same block length (32)
        float d = max / -16;
        float id = d != 0 ? 1.0f / d : 0.0f;
        out.putShort(Fp16.fromFloat(d));
        int qh = 0;
        byte[] qs = new byte[QK / 2];
        for (int j = 0; j < QK / 2; j++) {
            float x0 = x[xo + j] * id;
            float x1 = x[xo + QK / 2 + j] * id;
            int q0 = Math.min(31, (int) (x0 + 16.5f));
            int q1 = Math.min(31, (int) (x1 + 16.5f));
            qs[j] = (byte) ((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= ((q0 & 0x10) >>> 4) << j;
            qh |= ((q1 & 0x10) >>> 4) << (j + QK / 2);
        }
        out.putInt(qh);
        out.put(qs);
    }

    static void dequantize(ByteBuffer in, float[] y, int yo) {
        float d = Fp16.toFloat(in.getShort());
        int qh = in.getInt();
        for (int j = 0; j < QK / 2; j++) {
            int b = in.get() & 0xFF;
            int h0 = ((qh >>> j) << 4) & 0x10;
            int h1 = (qh >>> (j + 12)) & 0x10;
            y[yo + j] = (((b & 0x0F) | h0) - 16) * d;
            y[yo + j + QK / 2] = (((b >>> 4) | h1) - 16) * d;
        }
    }
}
