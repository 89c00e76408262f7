package org.qoft4j.quant;

import java.util.Arrays;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A 2-D bf16/fp16/fp32 weight read as runs of float32 values of its row-major flattening, so quantizers
 * can work in tight Java loops over bounded buffers instead of holding a float32 copy of the whole
 * weight. Works for CPU and CUDA tensors (each run is converted and copied to the CPU by libtorch).
 */
public final class WeightChunks {
    /** Elements per run: 4 MiB of float32, a multiple of every blocksize and group size in use. */
    public static final int CHUNK = 1 << 20;

    private final String name;
    private final Tensor flat; // [rows * cols], a view when the weight is contiguous
    private final long rows, cols;

    /** Validates the weight (2-D, float dtype, non-empty) and prepares reading; {@code name} is used in messages. */
    public WeightChunks(String name, Tensor weight) {
        this.name = name;
        if (weight.dim() != 2)
            throw new IllegalArgumentException("weight '" + name + "' must be 2-D [out_features, in_features], got shape "
                    + Arrays.toString(Tensors.shape(weight)));
        ScalarType dt = weight.scalar_type().intern();
        if (dt != ScalarType.Float && dt != ScalarType.BFloat16 && dt != ScalarType.Half)
            throw new IllegalArgumentException("weight '" + name + "' must be float32, bfloat16 or float16 to quantize, got " + dt);
        rows = weight.size(0);
        cols = weight.size(1);
        if (rows == 0 || cols == 0) throw new IllegalArgumentException("weight '" + name + "' is empty: shape [" + rows + ", " + cols + "]");
        // a non-contiguous weight (rare: a transposed view) is copied once; a loaded weight is a view already
        flat = weight.detach().contiguous().reshape(-1);
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

    /** Copies elements {@code [offset, offset + len)} of the flattened weight, as float32, into {@code dst[0, len)}. */
    public void read(long offset, float[] dst, int len) {
        Tensor run = flat.narrow(0, offset, len).to(new Device("cpu"), ScalarType.Float).contiguous();
        run.data_ptr_float().get(dst, 0, len);
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
}
