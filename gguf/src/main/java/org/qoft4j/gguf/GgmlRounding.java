package org.qoft4j.gguf;

/** The two roundings ggml's reference quantizers use, reproduced exactly. */
final class GgmlRounding {
    private GgmlRounding() {}

    /**
     * ggml's {@code nearest_int}: adds 1.5 * 2^23 in float arithmetic and reads the low mantissa bits, which rounds
     * to nearest with ties to even for |x| < 2^22 (the range ggml asserts).
     */
    static int nearestInt(float x) {
        float v = x + 12582912.f;
        int i = Float.floatToRawIntBits(v);
        return (i & 0x007F_FFFF) - 0x0040_0000;
    }

    /** C's {@code roundf}: to nearest, ties away from zero (unlike {@link Math#round(float)}, which ties up). */
    static float roundf(float x) {
        double a = Math.floor(Math.abs((double) x) + 0.5); // exact: a float plus 0.5 fits a double
        return (float) (x < 0 ? -a : a);
    }
}
