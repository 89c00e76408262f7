package org.qoft4j.quant;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A group-wise asymmetric INT4 weight in the packed layout of GPTQ checkpoints (AutoGPTQ / transformers,
 * {@code sym=false}, {@code desc_act=false}). With W of shape [rows = out, cols = in] and g = groupSize:
 * <pre>
 *   qweight I32 [cols / 8, rows]      qweight[k][o] bits 4j..4j+3 = q(o, 8k + j)          (j = 0..7, low nibble first)
 *   qzeros  I32 [cols / g, rows / 8]  qzeros[t][m] bits 4j..4j+3 = zero(t, 8m + j) - 1     (GPTQ's stored "minus one")
 *   scales  F16 [cols / g, rows]      scales[t][o] = scale of group t of row o
 *   W[o][i] = (q(o, i) - zero(i / g, o)) * scales[i / g][o]
 * </pre>
 * q and zero are in 0..15. The "minus one" on zeros is the convention of GPTQ checkpoints (v1 format).
 */
public record Int4Weight(long rows, long cols, ScalarType originalDtype, int groupSize,
                         Tensor qweight, Tensor qzeros, Tensor scales) implements QuantizedWeight {

    public Int4Weight {
        originalDtype = originalDtype.intern(); // dtypes returned by native code are fresh objects: see Tensors.dtype
        if (cols % 8 != 0 || cols % groupSize != 0 || rows % 8 != 0)
            throw new IllegalArgumentException("INT4 needs in_features divisible by 8 and the group size (" + groupSize
                    + ") and out_features divisible by 8; got [" + rows + ", " + cols + "]");
        checkShape("qweight", qweight, ScalarType.Int, cols / 8, rows);
        checkShape("qzeros", qzeros, ScalarType.Int, cols / groupSize, rows / 8);
        checkShape("scales", scales, ScalarType.Half, cols / groupSize, rows);
        qweight.retainReference();
        qzeros.retainReference();
        scales.retainReference();
    }

    private static void checkShape(String name, Tensor t, ScalarType dt, long d0, long d1) {
        if (t.dim() != 2 || t.size(0) != d0 || t.size(1) != d1 || t.scalar_type().intern() != dt)
            throw new IllegalArgumentException(name + " must be " + dt + " [" + d0 + ", " + d1 + "], got " + t.scalar_type().intern()
                    + " " + java.util.Arrays.toString(Tensors.shape(t)));
    }

    @Override
    public QuantType type() {
        return QuantType.INT4;
    }

    @Override
    public long storageBytes() {
        return qweight.nbytes() + qzeros.nbytes() + scales.nbytes();
    }

    @Override
    public Device device() {
        return qweight.device();
    }

    @Override
    public Int4Weight to(Device d) {
        return new Int4Weight(rows, cols, originalDtype, groupSize, qweight.to(d, ScalarType.Int), qzeros.to(d, ScalarType.Int),
                scales.to(d, ScalarType.Half));
    }

    @Override
    public void close() {
        qweight.releaseReference();
        qzeros.releaseReference();
        scales.releaseReference();
    }
}
