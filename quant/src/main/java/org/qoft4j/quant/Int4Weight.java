package org.qoft4j.quant;

import org.qoft4j.core.Tensors;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A group-wise asymmetric INT4 weight in the packed layout of GPTQ checkpoints (AutoGPTQ / transformers,
 * {@code bits=4}, {@code sym=false}, {@code desc_act=false}, checkpoint format v1). With W of shape
 * [rows = out, cols = in] and g = groupSize:
 * <pre>
 *   qweight I32 [cols / 8, rows]      qweight[k][o] bits 4j..4j+3 = q(o, 8k + j)          (j = 0..7, low nibble first)
 *   qzeros  I32 [cols / g, rows / 8]  qzeros[t][m] bits 4j..4j+3 = zero(t, 8m + j) - 1     (GPTQ's stored "minus one")
 *   scales  F16 [cols / g, rows]      scales[t][o] = scale of group t of row o
 *   W[o][i] = (q(o, i) - zero(i / g, o)) * scales[i / g][o]
 * </pre>
 * q is in 0..15. A reader adds 1 to the stored zero nibble without wrapping, as GPTQ kernels do, so a
 * stored 15 means 16; {@link org.qoft4j.quant.int4.Int4Quantizer} therefore only writes zeros 1..15.
 * (GPTQ's {@code g_idx}, {@code i / g} for every input column, follows from the group size.)
 */
public record Int4Weight(long rows, long cols, ScalarType originalDtype, int groupSize,
                         Tensor qweight, Tensor qzeros, Tensor scales) implements QuantizedWeight {

    public Int4Weight {
        originalDtype = originalDtype.intern(); // dtypes returned by native code are fresh objects: see Tensors.dtype
        if (groupSize <= 0 || rows <= 0 || cols <= 0)
            throw new IllegalArgumentException("INT4 needs a positive shape and group size; got [" + rows + ", " + cols + "], group " + groupSize);
        if (cols % 8 != 0 || cols % groupSize != 0 || rows % 8 != 0)
            throw new IllegalArgumentException("INT4 needs in_features divisible by 8 and the group size (" + groupSize
                    + ") and out_features divisible by 8; got [" + rows + ", " + cols + "]");
        checkShape("qweight", qweight, ScalarType.Int, cols / 8, rows);
        checkShape("qzeros", qzeros, ScalarType.Int, cols / groupSize, rows / 8);
        checkShape("scales", scales, ScalarType.Half, cols / groupSize, rows);
        if (!qzeros.device().equals(qweight.device()) || !scales.device().equals(qweight.device()))
            throw new IllegalArgumentException("qweight, qzeros and scales must be on one device");
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
