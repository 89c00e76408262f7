package org.qoft4j.quant.nf4;

import java.util.Arrays;

/**
 * The signed dynamic 8-bit map that double quantization uses for the absmax statistics, generated the
 * way bitsandbytes' {@code create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)} does:
 * for exponent i = 0..6, the 2^i midpoints of {@code linspace(0.1, 1, 2^i + 1)} scaled by 10^(i-6), both
 * signs, plus 0 and 1, sorted. 256 values from -0.99296875 to 1.0, 0.0 at index 127.
 * All arithmetic is float32 as in torch, including torch's linspace formula.
 */
public final class DynamicMap8bit {
    private static final float[] MAP = build();

    private DynamicMap8bit() {}

    /** A fresh copy of the 256 map values (index = code). */
    public static float[] values() {
        return MAP.clone();
    }

    public static float value(int code) {
        return MAP[code];
    }

    private static float[] build() {
        final int maxExponentBits = 7, nonSignBits = 7;
        float[] data = new float[256];
        int k = 0;
        for (int i = 0; i < maxExponentBits; i++) {
            int fractionItems = (1 << (i + nonSignBits - maxExponentBits)) + 1;
            float[] b = linspace(0.1f, 1f, fractionItems);
            // Python: (10 ** (-(max_exponent_bits - 1) + i)) * means, a double scalar torch applies in float32
            float scale = (float) Math.pow(10, -(maxExponentBits - 1) + i);
            for (int j = 0; j + 1 < b.length; j++) {
                float mean = (b[j] + b[j + 1]) / 2.0f;
                data[k++] = scale * mean;
                data[k++] = -scale * mean;
            }
        }
        data[k++] = 0f;
        data[k++] = 1f;
        if (k != 256) throw new IllegalStateException("dynamic map has " + k + " entries");
        Arrays.sort(data);
        return data;
    }

    /** torch.linspace in float32 (scalar path): the first half counts up from start, the rest down from end. */
    static float[] linspace(float start, float end, int steps) {
        float[] out = new float[steps];
        if (steps == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (steps - 1);
        int halfway = steps / 2;
        for (int i = 0; i < steps; i++) out[i] = i < halfway ? start + step * i : end - step * (steps - i - 1);
        return out;
    }
}
