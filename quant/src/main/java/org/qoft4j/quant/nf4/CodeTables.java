package org.qoft4j.quant.nf4;

import org.qoft4j.quant.QuantType;

/**
 * The NF4 and FP4 code tables of bitsandbytes (docs/DESIGN.md, "File formats") and the rules that
 * map a scaled value {@code s = x * (1/absmax)} to its 4-bit code. The float constants are the exact
 * float32 values bitsandbytes uses, so codes computed here are byte-identical to its GPU kernels.
 */
public final class CodeTables {
    private CodeTables() {}

    /** NF4 value of each code, as float32 bit patterns (spec table). */
    private static final int[] NF4_BITS = {
        0xbf800000, 0xbf3239b1, 0xbf066b30, 0xbeca32a0, 0xbe91a24d, 0xbe3d353f, 0xbdba7871, 0x00000000,
        0x3da2faff, 0x3e24cae3, 0x3e7c04dd, 0x3ead033a, 0x3ee1a4b8, 0x3f1007ab, 0x3f3913b3, 0x3f800000,
    };

    /**
     * The 15 NF4 decision thresholds of bitsandbytes' {@code dQuantizeNF4}, as float32 bits: its C literals
     * ({@code -0.8480964004993439f}, ...) rounded correctly from decimal, as the CUDA compiler does. Each is
     * the midpoint of two neighbouring NF4 values (within an ulp of the float32 midpoint). Rounding the
     * decimals through double instead would move four of them by one ulp, so they are pinned here as bits.
     */
    private static final int[] NF4_THRESHOLD_BITS = {
        0xbf591cd9, 0xbf1c5270, 0xbeeb8480, 0xbeadea76, 0xbe703cec, 0xbe0d38bc, 0xbd3a7871,
        0x3d22faff, 0x3df64863, 0x3e5067e0, 0x3e9582d4, 0x3ec753f9, 0x3f006d03, 0x3f248daf, 0x3f5c89d9,
    };
    private static final float[] NF4_THRESHOLDS = new float[15];

    static {
        for (int i = 0; i < 15; i++) NF4_THRESHOLDS[i] = Float.intBitsToFloat(NF4_THRESHOLD_BITS[i]);
    }

    /**
     * FP4 (1 sign, 2 exponent, 1 mantissa bit, bias 2) indexed by bit pattern: bitsandbytes'
     * {@code [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625, -8, -12, -4, -6, -2, -3]} divided by 12 in float32.
     * Its "-0" is the Python integer 0, so entry 8 is +0.0f, which is what bnb checkpoints store.
     */
    private static final float[] FP4_NUMERATORS = {0, 0.0625f, 8, 12, 4, 6, 2, 3, 0, -0.0625f, -8, -12, -4, -6, -2, -3};

    // GPU literals of bitsandbytes' dQuantizeFP4; not exact midpoints, kept as written for identical codes.
    private static final float FP4_T_MID = 0.29166667f;
    private static final float FP4_T_HIGH = 0.583333f;
    private static final float FP4_T_TOP = 0.8333333f;
    private static final float FP4_T_UPPER_MID = 0.4166667f;
    private static final float FP4_T_LOW = 0.0859375f;
    private static final float FP4_T_LOW_MID = 0.20833333f;
    private static final float FP4_T_TINY = 0.00260417f;

    private static final ThresholdCounter NF4_COUNTER = new ThresholdCounter(NF4_THRESHOLDS, -1f, 1f);
    private static final ThresholdCounter FP4_COUNTER = new ThresholdCounter(new float[] {
        FP4_T_TINY, FP4_T_LOW, FP4_T_LOW_MID, FP4_T_MID, FP4_T_UPPER_MID, FP4_T_HIGH, FP4_T_TOP}, 0f, 1f);
    /** FP4 magnitude code by the number of literals |s| exceeds (the GPU tree's leaves in order). */
    private static final int[] FP4_MAGNITUDE = {0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011};

    /** A fresh copy of the NF4 table (16 float32 values, index = code). */
    public static float[] nf4() {
        float[] t = new float[16];
        for (int i = 0; i < 16; i++) t[i] = Float.intBitsToFloat(NF4_BITS[i]);
        return t;
    }

    /** A fresh copy of the FP4 table (16 float32 values, index = bit pattern). */
    public static float[] fp4() {
        float[] t = new float[16];
        for (int i = 0; i < 16; i++) t[i] = FP4_NUMERATORS[i] / 12f;
        return t;
    }

    /** A fresh copy of the 15 NF4 thresholds, ascending. */
    public static float[] nf4Thresholds() {
        return NF4_THRESHOLDS.clone();
    }

    /** The table for a bitsandbytes 4-bit type. */
    public static float[] table(QuantType type) {
        switch (type) {
            case NF4: return nf4();
            case FP4: return fp4();
            default: throw new IllegalArgumentException(type + " has no bitsandbytes code table");
        }
    }

    /**
     * NF4 code of a scaled value: the number of thresholds {@code s} is strictly greater than (nearest
     * table value; an exact tie goes to the lower code). A branch-free binary search over the sorted
     * thresholds: the same comparisons as bitsandbytes' decision tree.
     */
    public static int nf4Code(float s) {
        float[] t = NF4_THRESHOLDS;
        int c = s > t[7] ? 8 : 0;
        c += s > t[c + 3] ? 4 : 0;
        c += s > t[c + 1] ? 2 : 0;
        c += s > t[c] ? 1 : 0;
        return c;
    }

    /** {@link #nf4Code} in constant time (table lookup plus one comparison): the quantizer's fast path. */
    static int nf4CodeFast(float s) {
        return NF4_COUNTER.count(s);
    }

    /** {@link #fp4Code} in constant time: the quantizer's fast path. */
    static int fp4CodeFast(float s) {
        return (s < 0 ? 0b1000 : 0) | FP4_MAGNITUDE[FP4_COUNTER.count(Math.abs(s))];
    }

    /**
     * FP4 code of a scaled value, bitsandbytes' GPU rule verbatim: sign bit 8 when {@code s < 0} (so -0.0
     * encodes as +0), then a decision tree on {@code |s|}.
     */
    public static int fp4Code(float s) {
        int sign = s < 0 ? 0b1000 : 0;
        float a = Math.abs(s);
        int mag;
        if (a > FP4_T_MID) {
            if (a > FP4_T_HIGH) mag = a > FP4_T_TOP ? 0b011 : 0b010;
            else mag = a > FP4_T_UPPER_MID ? 0b101 : 0b100;
        } else {
            if (a > FP4_T_LOW) mag = a > FP4_T_LOW_MID ? 0b111 : 0b110;
            else mag = a > FP4_T_TINY ? 0b001 : 0b000;
        }
        return sign | mag;
    }
}
