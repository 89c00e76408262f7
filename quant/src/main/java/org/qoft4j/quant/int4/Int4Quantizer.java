package org.qoft4j.quant.int4;

import java.util.stream.IntStream;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.Int4Weight;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.WeightChunks;

/**
 * Group-wise asymmetric round-to-nearest INT4 in the GPTQ checkpoint layout documented in {@link Int4Weight}.
 * Per row o and group t of {@code g} input columns, as GPTQ's RTN quantizer ({@code sym=false}) computes it:
 * <pre>
 *   xmin = min(0, min x), xmax = max(0, max x)         (an all-zero group uses [-1, 1])
 *   scale = fp16((xmax - xmin) / 15)                    (stored as fp16, and used as fp16 from here on)
 *   zero = rint(-xmin / scale)                          (ties to even, like torch.round)
 *   q = clamp(rint(x / scale) + zero, 0, 15)            W ~ (q - zero) * scale
 * </pre>
 * GPTQ checkpoints store {@code zero - 1} in a nibble, so zero 0 cannot be written: a group without a
 * noticeably negative value (zero would round to 0) is quantized over [-xmax/14, xmax] instead, which
 * gives zero 1 and scale xmax/14. Every error is then at most about scale/2.
 */
public final class Int4Quantizer {
    /** Smallest positive fp16 (subnormal), the scale used when a group's range underflows fp16. */
    private static final float MIN_HALF = 0x1p-24f;

    private Int4Quantizer() {}

    /** Quantizes a CPU or CUDA weight [out, in]; the result lives on the weight's device. */
    public static Int4Weight quantize(WeightChunks w, ScalarType originalDtype, Device device, int groupSize) {
        long rows = w.rows(), cols = w.cols();
        if (cols % groupSize != 0 || cols % 8 != 0 || rows % 8 != 0)
            throw new IllegalArgumentException("INT4 weight '" + w.name() + "' [" + rows + ", " + cols + "]: in_features must be divisible by 8"
                    + " and by the group size " + groupSize + ", and out_features by 8");
        int g = groupSize;
        int groups = (int) (cols / g);
        long rowsPerChunk = Math.max(8, WeightChunks.CHUNK / cols / 8 * 8);
        Int4Weight cpu;
        try (PointerScope scope = new PointerScope()) {
            Tensor qweight = torch.empty(new long[] {cols / 8, rows}, new TensorOptions(ScalarType.Int), null);
            Tensor qzeros = torch.empty(new long[] {groups, rows / 8}, new TensorOptions(ScalarType.Int), null);
            Tensor scales = torch.empty(new long[] {groups, rows}, new TensorOptions(ScalarType.Half), null);
            for (long o0 = 0; o0 < rows; o0 += rowsPerChunk) {
                int r = (int) Math.min(rowsPerChunk, rows - o0);
                float[] x = new float[Math.toIntExact(r * cols)];
                w.read(o0 * cols, x, x.length);
                int[] qw = new int[(int) (cols / 8) * r];   // [cols/8, r]
                float[] sc = new float[groups * r];          // [groups, r]
                int[] zero = new int[groups * r];            // [groups, r]
                long base = o0 * cols;
                IntStream.range(0, r).parallel().forEach(row -> quantizeRow(w, x, row, (int) cols, g, r, base, qw, sc, zero));
                int[] qz = new int[groups * (r / 8)];        // [groups, r/8]
                for (int t = 0; t < groups; t++)
                    for (int row = 0; row < r; row++)
                        qz[t * (r / 8) + row / 8] |= (zero[t * r + row] - 1) << (4 * (row % 8));
                IntPointer qwOut = qweight.data_ptr_int();
                for (int k = 0; k < cols / 8; k++) qwOut.position(k * rows + o0).put(qw, k * r, r); // row k of [cols/8, rows]
                qzeros.narrow(1, o0 / 8, r / 8).copy_(Tensors.ofInts(qz, groups, r / 8));
                scales.narrow(1, o0, r).copy_(Tensors.of(sc, groups, r)); // exact: already fp16 values
            }
            cpu = new Int4Weight(rows, cols, originalDtype, g, qweight, qzeros, scales);
        }
        if (device.is_cpu()) return cpu;
        try (cpu) {
            return cpu.to(device);
        }
    }

    private static void quantizeRow(WeightChunks w, float[] x, int row, int cols, int g, int r, long base,
                                    int[] qw, float[] sc, int[] zero) {
        int rowStart = row * cols;
        int[] q = new int[g];
        for (int t = 0; t < cols / g; t++) {
            int from = rowStart + t * g;
            float xmin = 0f, xmax = 0f;
            for (int i = from; i < from + g; i++) {
                float v = x[i];
                if (!Float.isFinite(v)) throw w.nonFinite(base + i, v);
                xmin = Math.min(xmin, v);
                xmax = Math.max(xmax, v);
            }
            if (xmin == 0f && xmax == 0f) {
                xmin = -1f;
                xmax = 1f;
            }
            float scale = scaleOf(w, base + from, xmin, xmax);
            float z = (float) Math.rint(-xmin / scale);
            if (z < 1f) { // zero 0 is not storable as GPTQ's "zero - 1": widen the range below 0 by one step
                xmin = -xmax / 14f;
                scale = scaleOf(w, base + from, xmin, xmax);
                z = 1f;
            }
            z = Math.min(z, 15f);
            for (int i = 0; i < g; i++)
                q[i] = (int) Math.max(0f, Math.min(15f, (float) Math.rint(x[from + i] / scale) + z));
            sc[t * r + row] = scale;
            zero[t * r + row] = (int) z;
            for (int k = 0; k < g / 8; k++) {
                int word = 0;
                for (int j = 0; j < 8; j++) word |= q[8 * k + j] << (4 * j);
                qw[(t * g / 8 + k) * r + row] = word;
            }
        }
    }

    private static float scaleOf(WeightChunks w, long at, float xmin, float xmax) {
        float s = roundToHalf((xmax - xmin) / 15f);
        if (Float.isInfinite(s))
            throw new IllegalArgumentException("INT4 weight '" + w.name() + "': the group at element " + at + " spans ["
                    + xmin + ", " + xmax + "], too wide for an fp16 scale");
        return s == 0f ? MIN_HALF : s;
    }

    /** Rounds a finite float32 to the nearest fp16 value (ties to even), returned as float32; Inf past fp16's range. */
    static float roundToHalf(float f) {
        float a = Math.abs(f);
        if (a < 0x1p-14f) // fp16 subnormal range: multiples of 2^-24 (exact scaling, rint ties to even)
            return Math.copySign((float) (Math.rint(a * 0x1p24) * 0x1p-24), f);
        int bits = Float.floatToRawIntBits(f);
        int lsb = (bits >> 13) & 1;
        bits = (bits + 0xFFF + lsb) & ~0x1FFF; // round the 23-bit mantissa to 10 bits, ties to even
        float h = Float.intBitsToFloat(bits);
        return Math.abs(h) > 65504f ? Math.copySign(Float.POSITIVE_INFINITY, f) : h;
    }
}
