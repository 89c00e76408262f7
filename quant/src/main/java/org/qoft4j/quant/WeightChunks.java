package org.qoft4j.quant;

import org.qoft4j.core.Tensors;
import java.util.Arrays;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A 2-D bf16/fp16/fp32 weight read as runs of float32 values of its row-major flattening, so quantizers
 * can work in tight Java loops over bounded buffers instead of holding a float32 copy of the whole
 * weight. The raw elements are copied out and widened in Java (exact for all three dtypes, and several
 * times faster than a libtorch conversion per run). CUDA weights are copied to the CPU one run at a time.
 */
public final class WeightChunks {
    /** Elements per run: 4 MiB of float32, a multiple of every blocksize and group size in use. */
    public static final int CHUNK = 1 << 20;

    private static final float[] HALF_TO_FLOAT = halfTable();

    private final String name;
    private final Tensor flat; // [rows * cols], a view when the weight is contiguous
    private final ScalarType dtype;
    private final long rows, cols;
    private short[] raw16;

    /** Validates the weight (2-D, float dtype, non-empty) and prepares reading; {@code name} is used in messages. */
    public WeightChunks(String name, Tensor weight) {
        this.name = name;
        if (weight.dim() != 2)
            throw new IllegalArgumentException("weight '" + name + "' must be 2-D [out_features, in_features], got shape "
                    + Arrays.toString(Tensors.shape(weight)));
        dtype = Tensors.dtype(weight);
        if (dtype != ScalarType.Float && dtype != ScalarType.BFloat16 && dtype != ScalarType.Half)
            throw new IllegalArgumentException("weight '" + name + "' must be float32, bfloat16 or float16 to quantize, got " + dtype);
        rows = weight.size(0);
        cols = weight.size(1);
        if (rows == 0 || cols == 0) throw new IllegalArgumentException("weight '" + name + "' is empty: shape [" + rows + ", " + cols + "]");
        // a non-contiguous weight (rare: a transposed view) is copied once; a loaded weight is a view already
        Tensor f = weight.detach().contiguous().reshape(-1);
        flat = dtype == ScalarType.Float ? f : f.view(ScalarType.Short); // 16-bit dtypes are read as raw bits
    }

    public String name() {
        return name;
    }

    public long rows() {
        return rows;
    }

    public long cols() {
        return cols;
    }

    public long numel() {
        return rows * cols;
    }

    /**
     * Copies elements {@code [offset, offset + len)} of the flattened weight, as float32, into {@code dst[0, len)}.
     * Not thread-safe (one reader per weight).
     */
    public void read(long offset, float[] dst, int len) {
        Tensor src = flat;
        long at = offset;
        if (!flat.device().is_cpu()) {
            src = flat.narrow(0, offset, len).to(new Device("cpu"), Tensors.dtype(flat));
            at = 0;
        }
        if (dtype == ScalarType.Float) {
            src.data_ptr_float().position(at).get(dst, 0, len);
            return;
        }
        if (raw16 == null || raw16.length < len) raw16 = new short[Math.max(len, CHUNK)];
        short[] h = raw16;
        src.data_ptr_short().position(at).get(h, 0, len);
        if (dtype == ScalarType.BFloat16) {
            for (int i = 0; i < len; i++) dst[i] = Float.intBitsToFloat(h[i] << 16);
        } else {
            for (int i = 0; i < len; i++) dst[i] = HALF_TO_FLOAT[h[i] & 0xFFFF];
        }
    }

    /** The exception for a NaN or infinite element at flattened index {@code index} (value {@code v}). */
    public IllegalArgumentException nonFinite(long index, float v) {
        return new IllegalArgumentException("weight '" + name + "' has a non-finite value (" + v + ") at [" + index / cols + ", "
                + index % cols + "]; NaN and Inf cannot be quantized");
    }

    /** Throws {@link #nonFinite} for the first NaN/Inf in {@code x[from, to)} (flattened index {@code base + i}). */
    public void requireFinite(float[] x, int from, int to, long base) {
        for (int i = from; i < to; i++)
            if (!Float.isFinite(x[i])) throw nonFinite(base + i, x[i]);
    }

    /** IEEE binary16 bits -> float32 value, for all 65536 patterns (exact). */
    static float halfToFloat(int h) {
        int sign = (h & 0x8000) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
        if (exp == 0x1F) return Float.intBitsToFloat(sign | 0x7F800000 | mant << 13); // Inf, NaN
        if (exp == 0) { // zero or subnormal: mant * 2^-24
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | (exp + 112) << 23 | mant << 13);
    }

    private static float[] halfTable() {
        float[] t = new float[65536];
        for (int h = 0; h < t.length; h++) t[h] = halfToFloat(h);
        return t;
    }
}
