package org.qoft4j.quant.kernel;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.Int4Weight;
import org.qoft4j.quant.QuantizedWeight;

/**
 * Dequantization in plain libtorch ops, on whatever device the weight lives (CPU or CUDA): the format
 * spec made executable, and the reference every fast kernel is tested against. All arithmetic is
 * float32 in the spec's operation order, each operation rounded; one cast to the output dtype at the end:
 * <pre>
 *   NF4/FP4:   absmax(b) = absmax[b]                                      (plain)
 *              absmax(b) = nested_map[absmax_u8[b]] * nested_absmax[b/256] + offset   (double quant)
 *              w(i) = quant_map[nibble(i)] * absmax(i / blocksize)
 *   INT4:      w(o, i) = float(q(o, i) - zero(i/g, o)) * float(scale(i/g, o))   (exact in float32)
 * </pre>
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
        try (PointerScope scope = new PointerScope()) {
            if (w instanceof Bnb4bitWeight b) bnb(b, out);
            else int4((Int4Weight) w, out);
        }
    }

    /** Writes quantMap[code(i)] * absmax(i / blocksize) into out. */
    private static void bnb(Bnb4bitWeight w, Tensor out) {
        long n = w.numel(), bs = w.blocksize(), nb = w.nblocks();
        // [256] pairs: the values of the high and low nibble of every byte value, each pair viewed as one
        // 8-byte element, so a single 1-D gather decodes two elements per packed byte
        Tensor bytes = torch.arange(new Scalar(256L), new TensorOptions(ScalarType.Long).device(new DeviceOptional(w.device())));
        Tensor qm = w.quantMap();
        Tensor pairs = torch.stack(new TensorVector(qm.index_select(0, bytes.__rshift__(new Scalar(4L))),
                qm.index_select(0, bytes.bitwise_and(new Scalar(15L)))), 1).view(ScalarType.Long).view(-1);
        Tensor values = pairs.index_select(0, w.packed().reshape(-1).to(ScalarType.Int)).view(ScalarType.Float); // [2 * ceil(n/2)]
        if (values.numel() != nb * bs) // short last block (or odd padding): pad/trim to whole blocks
            values = torch.constant_pad_nd(values.narrow(0, 0, n), new long[] {0, nb * bs - n}, new Scalar(0f));
        Tensor scale = blockAbsmax(w).unsqueeze(1); // [nb, 1]
        if (out.scalar_type().intern() == ScalarType.Float && n == nb * bs) {
            torch.mul_out(out.view(nb, bs), values.view(nb, bs), scale);
        } else {
            Tensor full = values.view(nb, bs).mul_(scale).view(-1).narrow(0, 0, n); // values is ours: scale in place
            out.copy_(full.view(w.rows(), w.cols()));
        }
    }

    /** float32 [nblocks]: the absmax per block, undoing double quantization when present. */
    static Tensor blockAbsmax(Bnb4bitWeight w) {
        Bnb4bitWeight.NestedAbsmax nested = w.nested();
        if (nested == null) return w.absmax();
        long nb = w.nblocks(), nbs = nested.blocksize(), nnb = nested.absmax().numel();
        Tensor q = nested.quantMap().index_select(0, w.absmax().to(ScalarType.Int));
        if (nb != nnb * nbs) q = torch.constant_pad_nd(q, new long[] {0, nnb * nbs - nb}, new Scalar(0f));
        Tensor scaled = q.view(nnb, nbs).mul(nested.absmax().unsqueeze(1)).reshape(-1).narrow(0, 0, nb);
        return scaled.add(new Scalar(nested.offset()));
    }

    /** From the GPTQ layout (see {@link Int4Weight}): q [cols, rows], zero and scale per [group, rows]. */
    private static void int4(Int4Weight w, Tensor out) {
        long rows = w.rows(), cols = w.cols(), g = w.groupSize(), groups = cols / g;
        Tensor q = unpackNibbles(w.qweight(), 0).view(groups, g, rows);                        // [cols, rows] by group
        Tensor zero = unpackNibbles(w.qzeros(), 1).add(new Scalar(1L)).unsqueeze(1);             // [groups, 1, rows]
        Tensor scale = w.scales().to(ScalarType.Float).unsqueeze(1);                             // [groups, 1, rows]
        Tensor wt = q.sub(zero).to(ScalarType.Float).mul(scale).view(cols, rows);                // W^T, exact in float32
        out.copy_(wt.t());
    }

    /** Splits each int32 into its 8 nibbles (low first), the nibble index becoming the fastest part of {@code dim}. */
    private static Tensor unpackNibbles(Tensor packed, int dim) {
        TensorVector parts = new TensorVector();
        for (int j = 0; j < 8; j++)
            parts.push_back(torch.bitwise_and(torch.bitwise_right_shift(packed, new Scalar(4L * j)), new Scalar(15L)));
        Tensor s = torch.stack(parts, dim + 1);                           // [d0, 8, d1] or [d0, d1, 8]
        long d0 = packed.size(0), d1 = packed.size(1);
        return dim == 0 ? s.reshape(d0 * 8, d1) : s.reshape(d0, d1 * 8);
    }
}
