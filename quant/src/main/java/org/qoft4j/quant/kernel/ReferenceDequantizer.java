package org.qoft4j.quant.kernel;

import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.Int4Weight;
import org.qoft4j.quant.QuantizedWeight;

/**
 * Dequantization in plain libtorch ops, on whatever device the weight lives: the format spec made
 * executable, and the reference every fast kernel is tested against. All arithmetic is float32 with
 * the spec's operation order; one cast to the output dtype at the end.
 */
public final class ReferenceDequantizer implements Dequantizer {
    @Override
    public String name() {
        return "reference";
    }

    @Override
    public boolean supports(QuantizedWeight w, Tensor out) {
        return true;
    }

    @Override
    public void dequantize(QuantizedWeight w, Tensor out) {
        Kernels.checkOutput(w, out);
        Tensor full = w instanceof Bnb4bitWeight b ? bnb(b) : int4((Int4Weight) w);
        out.copy_(full.reshape(w.rows(), w.cols()));
    }

    /** float32 [n]: quantMap[code(i)] * absmax(i / blocksize). */
    private static Tensor bnb(Bnb4bitWeight w) {
        long n = w.numel();
        Tensor packed = w.packed().reshape(-1);
        Tensor hi = torch.bitwise_right_shift(packed, new Scalar(4L));
        Tensor lo = torch.bitwise_and(packed, new Scalar(15L));
        Tensor codes = torch.stack(new TensorVector(hi, lo), 1).reshape(-1).narrow(0, 0, n).to(ScalarType.Long);
        Tensor values = w.quantMap().index_select(0, codes);
        Tensor absmax = blockAbsmax(w);
        Tensor scale = absmax.repeat_interleave(w.blocksize()).narrow(0, 0, n);
        return values.mul(scale);
    }

    /** float32 [nblocks]: the absmax per block, undoing double quantization when present. */
    static Tensor blockAbsmax(Bnb4bitWeight w) {
        Bnb4bitWeight.NestedAbsmax nested = w.nested();
        if (nested == null) return w.absmax();
        long nb = w.nblocks();
        Tensor q = nested.quantMap().index_select(0, w.absmax().to(ScalarType.Long));
        Tensor s = nested.absmax().repeat_interleave(nested.blocksize()).narrow(0, 0, nb);
        return q.mul(s).add(new Scalar(nested.offset()));
    }

    /** float32 [rows, cols] from the GPTQ layout (see {@link Int4Weight}). */
    private static Tensor int4(Int4Weight w) {
        Tensor q = unpackNibbles(w.qweight(), 0);                       // [cols/8, 8, rows] -> [cols, rows]
        q = q.reshape(w.cols(), w.rows());
        Tensor z = unpackNibbles(w.qzeros(), 1).add(new Scalar(1L));    // [cols/g, rows]
        Tensor zf = z.to(ScalarType.Float).repeat_interleave(w.groupSize(), new LongOptional(0), new LongOptional());   // [cols, rows]
        Tensor sf = w.scales().to(ScalarType.Float).repeat_interleave(w.groupSize(), new LongOptional(0), new LongOptional());
        Tensor wt = q.to(ScalarType.Float).sub(zf).mul(sf);             // [cols, rows], exact in float32
        return wt.t();
    }

    /** Splits each int32 into its 8 nibbles (low first) along a new axis placed after {@code dim}. */
    private static Tensor unpackNibbles(Tensor packed, int dim) {
        TensorVector parts = new TensorVector();
        for (int j = 0; j < 8; j++)
            parts.push_back(torch.bitwise_and(torch.bitwise_right_shift(packed, new Scalar(4L * j)), new Scalar(15L)));
        Tensor s = torch.stack(parts, dim + 1);                           // [..., 8, ...]
        long d0 = packed.size(0), d1 = packed.size(1);
        return dim == 0 ? s.reshape(d0 * 8, d1) : s.reshape(d0, d1 * 8);
    }
}
