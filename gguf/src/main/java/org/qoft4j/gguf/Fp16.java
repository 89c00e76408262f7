package org.qoft4j.gguf;

/**
 * float32 to IEEE half (fp16) and bfloat16 the way ggml converts: fp16 rounds to nearest, ties to even (overflow
 * gives infinity, NaN becomes the quiet NaN 0x7E00 with the sign kept), following ggml's branch-free
 * {@code ggml_compute_fp32_to_fp16}; bf16 rounds to nearest even, a NaN is kept and made quiet
 * ({@code ggml_compute_fp32_to_bf16}). Both are checked bit for bit against ggml in {@code GgmlReferenceTest}.
 */
public final class Fp16 {
    private Fp16() {}

    public static short fromFloat(float f) {
        // scaling by 2^112 then 2^-110 rounds the mantissa in float arithmetic at the half's precision
        float base = (Math.abs(f) * 0x1.0p112f) * 0x1.0p-110f;
        int w = Float.floatToRawIntBits(f);
        int shl1W = w + w;
        int sign = w & 0x8000_0000;
        int bias = shl1W & 0xFF00_0000;
        if (Integer.compareUnsigned(bias, 0x7100_0000) < 0) bias = 0x7100_0000;
        base = Float.intBitsToFloat((bias >>> 1) + 0x0780_0000) + base;
        int bits = Float.floatToRawIntBits(base);
        int expBits = (bits >>> 13) & 0x7C00;
        int mantissaBits = bits & 0x0FFF;
        int nonsign = expBits + mantissaBits;
        return (short) ((sign >>> 16) | (Integer.compareUnsigned(shl1W, 0xFF00_0000) > 0 ? 0x7E00 : nonsign));
    }

    public static float toFloat(short h) {
        int bits = h & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0x1F) return Float.intBitsToFloat(sign | 0x7F80_0000 | (mant == 0 ? 0 : 0x0040_0000 | (mant << 13))); // inf; NaN made quiet, as ggml's
        if (exp == 0) {
            if (mant == 0) return Float.intBitsToFloat(sign);
            float v = mant * 0x1.0p-24f; // subnormal: mant * 2^-24, exact in float
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    public static short bf16FromFloat(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7FFF_FFFF) > 0x7F80_0000) return (short) ((u >>> 16) | 64); // NaN: keep it, force quiet
        return (short) ((u + (0x7FFF + ((u >>> 16) & 1))) >>> 16);
    }

    public static float bf16ToFloat(short b) {
        return Float.intBitsToFloat((b & 0xFFFF) << 16);
    }
}
