package org.qoft4j.quant.nf4;

import java.util.stream.IntStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.WeightChunks;

/**
 * NF4/FP4 blockwise quantization exactly as bitsandbytes' kernels do it (docs/DESIGN.md, "File formats"):
 * per block of {@code blocksize} consecutive elements of the row-major weight, {@code absmax} = max |x|,
 * {@code s = x * (1/absmax)} in float32, code by {@link CodeTables}, two codes per byte with the even element
 * in the high nibble. The weight is read in runs of {@link WeightChunks#CHUNK} elements and the blocks of a
 * run are coded in parallel, so memory stays at the packed output plus one run.
 *
 * <p>An all-zero block (absmax 0) is coded as if every scaled value were 0 (the reciprocal is taken as 0):
 * NF4 code 7, FP4 code 0, so it dequantizes to exact zeros. bitsandbytes' GPU kernel computes
 * {@code 0 * (1/0) = NaN} there, which its NF4 decision tree sends to code 0 (-1.0 * 0 = -0.0); both
 * decode to zero. The padding element of an odd element count is a quantized 0.0, as on the GPU.
 */
public final class Bnb4bitQuantizer {
    private Bnb4bitQuantizer() {}

    /** Quantizes a CPU or CUDA weight; the result lives on the weight's device. */
    public static Bnb4bitWeight quantize(WeightChunks w, ScalarType originalDtype, Device device, QuantSpec spec) {
        if (spec.type() == QuantType.INT4) throw new IllegalArgumentException("Bnb4bitQuantizer handles nf4 and fp4, not int4");
        boolean nf4 = spec.type() == QuantType.NF4;
        int bs = spec.blocksize();
        long n = w.numel();
        long nblocks = (n + bs - 1) / bs;
        if (nblocks > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException("weight '" + w.name() + "' has too many blocks (" + nblocks + ") for blocksize " + bs);
        float[] absmax = new float[(int) nblocks];
        Bnb4bitWeight cpu;
        try (PointerScope scope = new PointerScope()) {
            Tensor packed = torch.empty(new long[] {(n + 1) / 2, 1}, new TensorOptions(ScalarType.Byte), null);
            float[] x = new float[(int) Math.min(n, WeightChunks.CHUNK)];
            byte[] codes = new byte[(x.length + 1) / 2];
            for (long off = 0; off < n; off += x.length) {
                int len = (int) Math.min(x.length, n - off);
                w.read(off, x, len);
                int firstBlock = (int) (off / bs);
                int blocksHere = (len + bs - 1) / bs;
                final long base = off;
                IntStream.range(0, blocksHere).parallel().forEach(b -> {
                    int from = b * bs, to = Math.min(from + bs, len);
                    float m = blockAbsmax(x, from, to);
                    if (!(m <= Float.MAX_VALUE)) w.requireFinite(x, from, to, base);
                    absmax[firstBlock + b] = m;
                    encodeBlock(x, from, to, m > 0 ? 1f / m : 0f, nf4, codes);
                });
                packed.data_ptr_byte().position(off / 2).put(codes, 0, (len + 1) / 2);
            }
            Tensor quantMap = Tensors.of(CodeTables.table(spec.type()), 16);
            Bnb4bitWeight.NestedAbsmax nested = null;
            Tensor absmaxT;
            if (spec.doubleQuant()) {
                DoubleQuant.Result dq = DoubleQuant.quantize(absmax);
                absmaxT = Tensors.ofBytes(dq.codes(), nblocks);
                nested = new Bnb4bitWeight.NestedAbsmax(Tensors.of(dq.nestedAbsmax(), dq.nestedAbsmax().length),
                        Tensors.of(DynamicMap8bit.values(), 256), dq.offset(), DoubleQuant.BLOCKSIZE);
            } else {
                absmaxT = Tensors.of(absmax, nblocks);
            }
            // the weight takes over the references NestedAbsmax retained
            cpu = new Bnb4bitWeight(spec.type(), w.rows(), w.cols(), originalDtype, bs, packed, absmaxT, quantMap, nested);
        }
        if (device.is_cpu()) return cpu;
        try (cpu) {
            return cpu.to(device);
        }
    }

    /** max |x[i]| over the block; NaN or Inf make it non-finite (NaN compares false, so it is carried separately). */
    private static float blockAbsmax(float[] x, int from, int to) {
        float m = 0f;
        boolean nan = false;
        for (int i = from; i < to; i++) {
            float a = Math.abs(x[i]);
            nan |= a != a;
            m = a > m ? a : m;
        }
        return nan ? Float.NaN : m;
    }

    /** Writes the codes of x[from, to) (from even) into codes[from/2 ...], even element in the high nibble. */
    private static void encodeBlock(float[] x, int from, int to, float r, boolean nf4, byte[] codes) {
        for (int i = from; i < to; i += 2) {
            float s0 = x[i] * r;
            float s1 = i + 1 < to ? x[i + 1] * r : 0f * r; // odd count: pad with a zero element
            int c0 = nf4 ? CodeTables.nf4CodeFast(s0) : CodeTables.fp4CodeFast(s0);
            int c1 = nf4 ? CodeTables.nf4CodeFast(s1) : CodeTables.fp4CodeFast(s1);
            codes[i >> 1] = (byte) (c0 << 4 | c1);
        }
    }
}
