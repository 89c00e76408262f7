package org.qoft4j.quant.nf4;

/**
 * Double quantization of the absmax statistics (bitsandbytes' {@code compress_statistics}):
 * {@code offset = mean(absmax)}; {@code absmax - offset} is quantized blockwise (blocksize 256) with the
 * signed {@link DynamicMap8bit}: per block {@code nested = max |v|}, code = nearest map entry of
 * {@code v * (1/nested)} found by bitsandbytes' 7-step binary search and midpoint compare (ported
 * literally, so codes are identical). Dequantization: {@code map[code] * nested[b / 256] + offset}.
 */
public final class DoubleQuant {
    public static final int BLOCKSIZE = 256;

    private DoubleQuant() {}

    /**
     * @param codes        one U8 code per absmax entry
     * @param nestedAbsmax float32 {@code [ceil(n / 256)]}
     * @param offset       the float32 mean of the absmax values
     */
    public record Result(byte[] codes, float[] nestedAbsmax, float offset) {}

    public static Result quantize(float[] absmax) {
        int n = absmax.length;
        float offset = mean(absmax);
        float[] map = DynamicMap8bit.values();
        int nb = (n + BLOCKSIZE - 1) / BLOCKSIZE;
        float[] nested = new float[nb];
        byte[] codes = new byte[n];
        float[] v = new float[BLOCKSIZE];
        for (int b = 0; b < nb; b++) {
            int from = b * BLOCKSIZE, len = Math.min(BLOCKSIZE, n - from);
            float m = 0f;
            for (int i = 0; i < len; i++) {
                v[i] = absmax[from + i] - offset;
                m = Math.max(m, Math.abs(v[i]));
            }
            nested[b] = m;
            float r = m > 0 ? 1f / m : 0f; // an all-equal block codes as 0.0 (code 127) instead of NaN
            for (int i = 0; i < len; i++) codes[from + i] = (byte) code(map, v[i] * r);
        }
        return new Result(codes, nested, offset);
    }

    /**
     * The mean, accumulated in double and rounded once to float32: deterministic and as exact as float32
     * allows. (bitsandbytes takes torch's float32 mean on the GPU, which can differ in the last bit; the
     * offset is stored in the checkpoint, so readers never recompute it.)
     */
    static float mean(float[] a) {
        double s = 0;
        for (float x : a) s += x;
        return (float) (s / a.length);
    }

    /** bitsandbytes' {@code dQuantize<0>}: binary search from pivot 127 with steps 64..1, then a midpoint compare. */
    static int code(float[] map, float x) {
        int pivot = 127, upperPivot = 255, lowerPivot = 0;
        float lower = -1f, upper = 1f;
        float val = map[pivot];
        for (int i = 64; i > 0; i >>= 1) {
            if (x > val) {
                lowerPivot = pivot;
                lower = val;
                pivot += i;
            } else {
                upperPivot = pivot;
                upper = val;
                pivot -= i;
            }
            val = map[pivot];
        }
        if (upperPivot == 255) upper = map[upperPivot];
        if (lowerPivot == 0) lower = map[lowerPivot];
        if (x > val) {
            float midpoint = (upper + val) * 0.5f;
            return x > midpoint ? upperPivot : pivot;
        } else {
            float midpoint = (lower + val) * 0.5f;
            return x < midpoint ? lowerPivot : pivot;
        }
    }
}
