package org.qoft4j.nativekernels;

import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.Int4Weight;
import org.qoft4j.quant.QuantType;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.nf4.CodeTables;

/**
 * Weights built directly from random bytes and values, so every code, scale and zero pattern occurs (a
 * quantizer would only produce the patterns real weights give): the inputs of the kernel tests and of
 * {@link GpuCheck}.
 */
final class RandomWeights {
    private RandomWeights() {}

    /** Random codes; absmax drawn from |N(0,1)| with every 7th block zero (all-zero blocks). */
    static Bnb4bitWeight bnb(Random rnd, QuantType type, long rows, long cols, int blocksize, boolean doubleQuant) {
        long n = rows * cols;
        int nblocks = (int) ((n + blocksize - 1) / blocksize);
        byte[] packed = new byte[(int) ((n + 1) / 2)];
        rnd.nextBytes(packed);
        if (n % 2 == 1) packed[packed.length - 1] &= (byte) 0xF0;  // the pad nibble is zero, as the spec packs it
        Tensor p = Tensors.ofBytes(packed, packed.length, 1);
        Tensor qmap = Tensors.of(CodeTables.table(type), 16);
        if (!doubleQuant) {
            float[] absmax = new float[nblocks];
            for (int b = 0; b < nblocks; b++) absmax[b] = b % 7 == 3 ? 0f : (float) Math.abs(rnd.nextGaussian()) * 0.05f;
            return new Bnb4bitWeight(type, rows, cols, ScalarType.BFloat16, blocksize, p, Tensors.of(absmax, nblocks), qmap, null);
        }
        int nestedBlocksize = 256;
        byte[] codes = new byte[nblocks];
        rnd.nextBytes(codes);
        float[] nestedAbsmax = new float[(nblocks + nestedBlocksize - 1) / nestedBlocksize];
        for (int i = 0; i < nestedAbsmax.length; i++) nestedAbsmax[i] = (float) Math.abs(rnd.nextGaussian()) * 0.01f;
        float[] nestedMap = new float[256];
        for (int i = 0; i < 256; i++) nestedMap[i] = (float) rnd.nextGaussian();
        var nested = new Bnb4bitWeight.NestedAbsmax(Tensors.of(nestedAbsmax, nestedAbsmax.length), Tensors.of(nestedMap, 256),
                0.031f + (float) rnd.nextGaussian() * 1e-3f, nestedBlocksize);
        return new Bnb4bitWeight(type, rows, cols, ScalarType.BFloat16, blocksize, p, Tensors.ofBytes(codes, nblocks), qmap, nested);
    }

    /** Random GPTQ words (all 32 bits), random finite fp16 scales of both signs including subnormals. */
    static Int4Weight int4(Random rnd, long rows, long cols, int group) {
        int[] qweight = new int[(int) (cols / 8 * rows)];
        int[] qzeros = new int[(int) (cols / group * (rows / 8))];
        for (int i = 0; i < qweight.length; i++) qweight[i] = rnd.nextInt();
        for (int i = 0; i < qzeros.length; i++) qzeros[i] = rnd.nextInt();
        short[] scales = new short[(int) (cols / group * rows)];
        for (int i = 0; i < scales.length; i++) {
            int bits;
            do bits = rnd.nextInt(0x10000); while ((bits & 0x7C00) == 0x7C00);  // no inf / NaN
            scales[i] = (short) bits;
        }
        return int4(rows, cols, group, qweight, qzeros, scales);
    }

    static Int4Weight int4(long rows, long cols, int group, int[] qweight, int[] qzeros, short[] scales) {
        Tensor s = Tensors.ofInts(toInts(scales), scales.length).to(ScalarType.Short).view(ScalarType.Half)
                .reshape(cols / group, rows);
        return new Int4Weight(rows, cols, ScalarType.Half, group, Tensors.ofInts(qweight, cols / 8, rows),
                Tensors.ofInts(qzeros, cols / group, rows / 8), s);
    }

    private static int[] toInts(short[] s) {
        int[] out = new int[s.length];
        for (int i = 0; i < s.length; i++) out[i] = s[i];
        return out;
    }

    /** The raw bit patterns of a float32 / bfloat16 / float16 tensor, for bit-exact comparisons. */
    static long[] bits(Tensor t) {
        ScalarType dt = Tensors.dtype(t);
        Tensor raw = dt == ScalarType.Float ? t.contiguous().view(ScalarType.Int) : t.contiguous().view(ScalarType.Short);
        long[] v = Tensors.toLongs(raw.reshape(-1));
        if (dt != ScalarType.Float) for (int i = 0; i < v.length; i++) v[i] &= 0xFFFF;
        else for (int i = 0; i < v.length; i++) v[i] &= 0xFFFFFFFFL;
        return v;
    }
}
