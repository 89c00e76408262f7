package org.qoft4j.gguf;

import java.nio.ByteBuffer;

/**
 * ggml's {@code block_q4_K}: a super-block of 256 values in 8 sub-blocks of 32, each with its own 6-bit scale and
 * 6-bit min; value = d * sc * q - dmin * m, q in 0..15 (144 bytes):
 * <pre>
 *   d     fp16      super-block scale of the sub-block scales
 *   dmin  fp16      super-block scale of the sub-block mins
 *   scales[12]      the 8 (sc, m) pairs at 6 bits: for j < 4, sc = scales[j] &amp; 63, m = scales[j+4] &amp; 63; for j &gt;= 4,
 *                   the low 4 bits in scales[j+4] (sc low nibble, m high nibble), the high 2 bits in the top bits of
 *                   scales[j-4] (sc) and scales[j] (m)
 *   qs[128]         4-bit codes: per 64 values, byte l holds value l (low nibble) and value l + 32 (high nibble)
 * </pre>
 * Quantized as {@code quantize_row_q4_K_ref} (no importance matrix): each sub-block's scale and min are fitted by
 * ggml's {@code make_qkx2_quants} (weights av|x| + |x|, 21 trial scales), then quantized to 6 bits against the
 * largest, and the codes recomputed from the rounded scales. Every float operation follows ggml's order, so the
 * bytes equal ggml's (checked in {@code GgmlReferenceTest}).
 */
final class Q4KBlock {
    static final int QK = 256;
    static final int BYTES = 144;

    private Q4KBlock() {}

    static void quantize(float[] x, int xo, ByteBuffer out) {
        byte[] l = new byte[QK];    // the codes, 0..15
        byte[] laux = new byte[32];
        float[] weights = new float[32];
        float[] mins = new float[QK / 32];
        float[] scales = new float[QK / 32];
        float[] theMin = new float[1];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < QK / 32; j++) {
            float sumX2 = 0;
            for (int i = 0; i < 32; i++) sumX2 += x[xo + 32 * j + i] * x[xo + 32 * j + i];
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int i = 0; i < 32; i++) weights[i] = avX + Math.abs(x[xo + 32 * j + i]);
            scales[j] = makeQkx2Quants(32, 15, x, xo + 32 * j, weights, l, 32 * j, theMin, laux, -1.f, 0.1f, 20);
            mins[j] = theMin[0];
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
        float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
        byte[] sc = new byte[12];
        for (int j = 0; j < QK / 32; j++) {
            int ls = Math.min(63, GgmlRounding.nearestInt(invScale * scales[j]) & 0xFF); // C stores into a uint8_t first
            int lm = Math.min(63, GgmlRounding.nearestInt(invMin * mins[j]) & 0xFF);
            if (j < 4) {
                sc[j] = (byte) ls;
                sc[j + 4] = (byte) lm;
            } else {
                sc[j + 4] = (byte) ((ls & 0xF) | ((lm & 0xF) << 4));
                sc[j - 4] |= (byte) ((ls >>> 4) << 6);
                sc[j] |= (byte) ((lm >>> 4) << 6);
            }
        }
        short dh = Fp16.fromFloat(maxScale / 63.f);
        short dminh = Fp16.fromFloat(maxMin / 63.f);
        float d0 = Fp16.toFloat(dh), dmin0 = Fp16.toFloat(dminh);
        for (int j = 0; j < QK / 32; j++) {
            float d = d0 * scale(sc, j);
            if (d == 0) continue; // keeps make_qkx2_quants' codes
            float dm = dmin0 * min(sc, j);
            for (int i = 0; i < 32; i++) {
                int q = GgmlRounding.nearestInt((x[xo + 32 * j + i] + dm) / d);
                l[32 * j + i] = (byte) Math.max(0, Math.min(15, q));
            }
        }
        out.putShort(dh).putShort(dminh).put(sc);
        for (int j = 0; j < QK; j += 64)
            for (int i = 0; i < 32; i++) out.put((byte) (l[j + i] | (l[j + i + 32] << 4)));
    }

    /** ggml's {@code get_scale_min_k4}: the 6-bit scale of sub-block j. */
    static int scale(byte[] q, int j) {
        return j < 4 ? q[j] & 63 : (q[j + 4] & 0xF) | (((q[j - 4] & 0xFF) >>> 6) << 4);
    }

    /** ggml's {@code get_scale_min_k4}: the 6-bit min of sub-block j. */
    static int min(byte[] q, int j) {
        return j < 4 ? q[j + 4] & 63 : ((q[j + 4] & 0xFF) >>> 4) | (((q[j] & 0xFF) >>> 6) << 4);
    }

    /**
     * ggml's {@code make_qkx2_quants} (use_mad = false): fits x ≈ scale * L + min (min &lt;= 0) with L in 0..nmax,
     * minimizing the weighted squared error over nstep + 1 trial inverse scales; writes L into {@code l[lo..]} and
     * -min into {@code theMin[0]}, returns the scale.
     */
    static float makeQkx2Quants(int n, int nmax, float[] x, int xo, float[] weights, byte[] l, int lo, float[] theMin, byte[] laux,
                                float rmin, float rdelta, int nstep) {
        float min = x[xo], max = x[xo];
        float sumW = weights[0];
        float sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            float v = x[xo + i];
            if (v < min) min = v;
            if (v > max) max = v;
            float w = weights[i];
            sumW += w;
            sumX += w * v;
        }
        if (min > 0) min = 0;
        if (max == min) {
            for (int i = 0; i < n; i++) l[lo + i] = 0;
            theMin[0] = -min;
            return 0.f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int q = GgmlRounding.nearestInt(iscale * (x[xo + i] - min));
            l[lo + i] = (byte) Math.max(0, Math.min(nmax, q));
            float diff = scale * l[lo + i] + min - x[xo + i];
            bestError += weights[i] * (diff * diff);
        }
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXl = 0;
            for (int i = 0; i < n; i++) {
                int q = GgmlRounding.nearestInt(iscale * (x[xo + i] - min));
                q = Math.max(0, Math.min(nmax, q));
                laux[i] = (byte) q;
                float w = weights[i];
                sumL += w * q;
                sumL2 += w * q * q;
                sumXl += w * q * x[xo + i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXl - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * laux[i] + thisMin - x[xo + i];
                    curError += weights[i] * (diff * diff);
                }
                if (curError < bestError) {
                    System.arraycopy(laux, 0, l, lo, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin[0] = -min;
        return scale;
    }

    static void dequantize(ByteBuffer in, float[] y, int yo) {
        float d = Fp16.toFloat(in.getShort());
        float dmin = Fp16.toFloat(in.getShort());
        byte[] sc = new byte[12];
        in.get(sc);
        byte[] qs = new byte[QK / 2];
        in.get(qs);
        int is = 0, q = 0, o = yo;
        for (int j = 0; j < QK; j += 64) {
            float d1 = d * scale(sc, is), m1 = dmin * min(sc, is);
            float d2 = d * scale(sc, is + 1), m2 = dmin * min(sc, is + 1);
            for (int i = 0; i < 32; i++) y[o++] = d1 * (qs[q + i] & 0xF) - m1;
            for (int i = 0; i < 32; i++) y[o++] = d2 * ((qs[q + i] & 0xFF) >>> 4) - m2;
            q += 32;
            is += 2;
        }
    }
}
