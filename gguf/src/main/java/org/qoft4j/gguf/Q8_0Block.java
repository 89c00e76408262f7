package org.qoft4j.gguf;

import java.nio.ByteBuffer;

/**
 * ggml's {@code block_q8_0}: 32 values as {@code d} (fp16) then 32 int8 {@code qs}; value = d * q (34 bytes).
 * Quantized as {@code quantize_row_q8_0_ref}: d = absmax / 127, q = roundf(x / d) (through 1/d).
 */
final class Q8_0Block {
    static final int QK = 32;

    private Q8_0Block() {}

    static void quantize(float[] x, int xo, ByteBuffer out) {
        float amax = 0;
        for (int j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[xo + j]));
        float d = amax / ((1 << 7) - 1);
        float id = d != 0 ? 1.0f / d : 0.0f;
        out.putShort(Fp16.fromFloat(d));
        for (int j = 0; j < QK; j++) out.put((byte) (int) GgmlRounding.roundf(x[xo + j] * id));
    }

    static void dequantize(ByteBuffer in, float[] y, int yo) {
        float d = Fp16.toFloat(in.getShort());
        for (int j = 0; j < QK; j++) y[yo + j] = in.get() * d;
    }
}
