package org.qoft4j.gguf;

import java.nio.ByteBuffer;

/**
 * ggml's {@code block_q6_K}: a super-block of 256 values in 16 sub-blocks of 16, each with an int8 scale;
 * value = d * scale * (q - 32), q in 0..63 (210 bytes):
 * <pre>
 *   ql[128]     low 4 bits: per 128 values, byte l holds value l (low nibble) and l + 64 (high nibble),
 *               byte l + 32 holds values l + 32 and l + 96
 *   qh[64]      high 2 bits: per 128 values, byte l holds those of values l, l + 32, l + 64, l + 96 at bits 0, 2, 4, 6
 *   scales[16]  int8 sub-block scales
 *   d           fp16 super-block scale
 * </pre>
 * Quantized as {@code quantize_row_q6_K_ref}: each sub-block's scale comes from ggml's {@code make_qx_quants}
 * (nmax 32, weights x², 18 further trial scales), the scales are quantized to int8 against the largest, and the codes
 * recomputed from the rounded scales, in ggml's float order (checked in {@code GgmlReferenceTest}).
 */
final class Q6KBlock {
    static final int QK = 256;
    static final int BYTES = 210;
    private static final float GROUP_MAX_EPS = 1e-15f;

    private Q6KBlock() {}

    static void quantize(float[] x, int xo, ByteBuffer out) {
        byte[] l = new byte[QK]; // codes 0..63
        float[] scales = new float[QK / 16];
        float maxScale = 0, maxAbsScale = 0;
        for (int ib = 0; ib < QK / 16; ib++) {
            float scale = makeQxQuants(16, 32, x, xo + 16 * ib, l, 16 * ib);
            scales[ib] = scale;
            float abs = Math.abs(scale);
            if (abs > maxAbsScale) {
                maxAbsScale = abs;
                maxScale = scale;
            }
        }
        if (maxAbsScale < GROUP_MAX_EPS) {
            out.put(new byte[BYTES - 2]).putShort(Fp16.fromFloat(0.f));
            return;
        }
        float iscale = -128.f / maxScale;
        short dh = Fp16.fromFloat(1 / iscale);
        byte[] sc = new byte[QK / 16];
        for (int ib = 0; ib < QK / 16; ib++) sc[ib] = (byte) Math.min(127, GgmlRounding.nearestInt(iscale * scales[ib]));
        float d0 = Fp16.toFloat(dh);
        for (int j = 0; j < QK / 16; j++) {
            float d = d0 * sc[j];
            if (d == 0) continue; // keeps make_qx_quants' codes
            for (int i = 0; i < 16; i++) {
                int q = GgmlRounding.nearestInt(x[xo + 16 * j + i] / d);
                q = Math.max(-32, Math.min(31, q));
                l[16 * j + i] = (byte) (q + 32);
            }
        }
        byte[] ql = new byte[QK / 2], qh = new byte[QK / 4];
        for (int j = 0, qlo = 0, qho = 0; j < QK; j += 128, qlo += 64, qho += 32) {
            for (int i = 0; i < 32; i++) {
                int q1 = l[j + i] & 0xF, q2 = l[j + i + 32] & 0xF, q3 = l[j + i + 64] & 0xF, q4 = l[j + i + 96] & 0xF;
                ql[qlo + i] = (byte) (q1 | (q3 << 4));
                ql[qlo + i + 32] = (byte) (q2 | (q4 << 4));
                qh[qho + i] = (byte) ((l[j + i] >> 4) | ((l[j + i + 32] >> 4) << 2) | ((l[j + i + 64] >> 4) << 4) | ((l[j + i + 96] >> 4) << 6));
            }
        }
        out.put(ql).put(qh).put(sc).putShort(dh);
    }

    /**
     * ggml's {@code make_qx_quants} with rmse_type 1 and no importance weights: symmetric codes L in 0..2*nmax-1
     * (value ≈ scale * (L - nmax)) into {@code l[lo..]}; returns the scale that minimizes the x²-weighted error.
     */
    static float makeQxQuants(int n, int nmax, float[] x, int xo, byte[] l, int lo) {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) l[lo + i] = 0;
            return 0.f;
        }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++) {
            float v = x[xo + i];
            int q = GgmlRounding.nearestInt(iscale * v);
            q = Math.max(-nmax, Math.min(nmax - 1, q));
            l[lo + i] = (byte) (q + nmax);
            float w = v * v;
            sumlx += w * v * q;
            suml2 += w * q * q;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; is++) {
            if (is == 0) continue;
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; i++) {
                float v = x[xo + i];
                int q = GgmlRounding.nearestInt(iscale * v);
                q = Math.max(-nmax, Math.min(nmax - 1, q));
                float w = v * v;
                sumlx += w * v * q;
                suml2 += w * q * q;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; i++) {
                    int q = GgmlRounding.nearestInt(iscale * x[xo + i]);
                    l[lo + i] = (byte) (nmax + Math.max(-nmax, Math.min(nmax - 1, q)));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    static void dequantize(ByteBuffer in, float[] y, int yo) {
        byte[] ql = new byte[QK / 2], qh = new byte[QK / 4], sc = new byte[QK / 16];
        in.get(ql).get(qh).get(sc);
        float d = Fp16.toFloat(in.getShort());
        for (int n = 0, qlo = 0, qho = 0, so = 0; n < QK; n += 128, qlo += 64, qho += 32, so += 8) {
            for (int i = 0; i < 32; i++) {
                int is = i / 16;
                int h = qh[qho + i] & 0xFF;
                int q1 = ((ql[qlo + i] & 0xF) | ((h & 3) << 4)) - 32;
                int q2 = ((ql[qlo + i + 32] & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                int q3 = (((ql[qlo + i] & 0xFF) >> 4) | (((h >> 4) & 3) << 4)) - 32;
                int q4 = (((ql[qlo + i + 32] & 0xFF) >> 4) | (((h >> 6) & 3) << 4)) - 32;
                y[yo + n + i] = d * sc[so + is] * q1;
                y[yo + n + i + 32] = d * sc[so + is + 2] * q2;
                y[yo + n + i + 64] = d * sc[so + is + 4] * q3;
                y[yo + n + i + 96] = d * sc[so + is + 6] * q4;
            }
        }
    }
}
