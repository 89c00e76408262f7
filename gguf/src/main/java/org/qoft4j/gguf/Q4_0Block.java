package org.qoft4j.gguf;

import java.nio.ByteBuffer;

/**
 * ggml's {@code block_q4_0}: 32 values as {@code d} (fp16) then 16 bytes of 4-bit codes; value j sits in the low
 * nibble of byte j, value j + 16 in its high nibble; value = (q - 8) * d (18 bytes). Quantized as
 * {@code quantize_row_q4_0_ref}: d = (the value of largest magnitude, with its sign) / -8, q = min(15, trunc(x / d + 8.5)).
 */
final class Q4_0Block {
    static final int QK = 32;

    private Q4_0Block() {}

    /** The block's value of largest magnitude, with its sign (the first of equal magnitudes), as ggml picks it. */
    static float signedAbsMax(float[] x, int xo) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK; j++) {
            float v = x[xo + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    static void quantize(float[] x, int xo, ByteBuffer out) {
        float max = signedAbsMax(x, xo);
        float d = max / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        out.putShort(Fp16.fromFloat(d));
        for (int j = 0; j < QK / 2; j++) {
            float x0 = x[xo + j] * id;
            float x1 = x[xo + QK / 2 + j] * id;
            int q0 = Math.min(15, (int) (x0 + 8.5f));
            int q1 = Math.min(15, (int) (x1 + 8.5f));
            out.put((byte) (q0 | (q1 << 4)));
        }
    }

    static void dequantize(ByteBuffer in, float[] y, int yo) {
        float d = Fp16.toFloat(in.getShort());
        for (int j = 0; j < QK / 2; j++) {
            int b = in.get() & 0xFF;
            y[yo + j] = ((b & 0x0F) - 8) * d;
            y[yo + j + QK / 2] = ((b >>> 4) - 8) * d;
        }
    }
}
