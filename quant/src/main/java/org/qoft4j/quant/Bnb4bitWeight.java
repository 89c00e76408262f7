package org.qoft4j.quant;

import org.qoft4j.core.Tensors;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * An NF4 or FP4 weight in the bitsandbytes layout (docs/DESIGN.md, "File formats").
 * Element i of the row-major flattened weight lives in byte i/2 of {@code packed}, high nibble for
 * even i; its scale is {@code absmax[i / blocksize]} (itself double-quantized when {@code nested != null}).
 *
 * @param packed   U8 {@code [ceil(n/2), 1]} codes, even element in the high nibble
 * @param absmax   F32 {@code [nblocks]}; with double quantization U8 {@code [nblocks]} codes into {@code nested.quantMap}
 * @param quantMap F32 {@code [16]} the code table (NF4 or FP4 values)
 * @param nested   the double-quantization state, or null
 */
public record Bnb4bitWeight(QuantType type, long rows, long cols, ScalarType originalDtype, int blocksize,
                            Tensor packed, Tensor absmax, Tensor quantMap, NestedAbsmax nested)
        implements QuantizedWeight {

    /**
     * Double-quantized absmax statistics: {@code absmax[b] = quantMap[code[b]] * absmax[b / blocksize] + offset}.
     *
     * @param absmax   F32 {@code [ceil(nblocks / blocksize)]}
     * @param quantMap F32 {@code [256]} the signed dynamic 8-bit map
     * @param offset   mean of the original absmax values
     * @param blocksize 256 in bitsandbytes
     */
    public record NestedAbsmax(Tensor absmax, Tensor quantMap, float offset, int blocksize) {
        public NestedAbsmax {
            if (blocksize <= 0) throw new IllegalArgumentException("nested blocksize must be positive, got " + blocksize);
            if (Tensors.dtype(absmax) != ScalarType.Float || absmax.dim() != 1)
                throw new IllegalArgumentException("nested_absmax must be 1-D F32, got " + Tensors.dtype(absmax) + " " + absmax.dim() + "-D");
            if (Tensors.dtype(quantMap) != ScalarType.Float || quantMap.numel() != 256)
                throw new IllegalArgumentException("nested_quant_map must be F32 with 256 entries, got " + Tensors.dtype(quantMap)
                        + " with " + quantMap.numel());
            if (!quantMap.device().equals(absmax.device()))
                throw new IllegalArgumentException("nested_absmax and nested_quant_map are on different devices");
            absmax.retainReference();
            quantMap.retainReference();
        }

        long bytes() {
            return absmax.nbytes() + quantMap.nbytes();
        }

        NestedAbsmax to(Device d) {
            return new NestedAbsmax(absmax.to(d, absmax.scalar_type().intern()), quantMap.to(d, quantMap.scalar_type().intern()), offset, blocksize);
        }

        void close() {
            absmax.releaseReference();
            quantMap.releaseReference();
        }
    }

    public Bnb4bitWeight {
        originalDtype = originalDtype.intern(); // dtypes returned by native code are fresh objects: see Tensors.dtype
        if (type == QuantType.INT4) throw new IllegalArgumentException("Bnb4bitWeight holds nf4 or fp4, not int4");
        if (rows <= 0 || cols <= 0) throw new IllegalArgumentException("shape must be positive, got [" + rows + ", " + cols + "]");
        if (blocksize <= 0) throw new IllegalArgumentException("blocksize must be positive, got " + blocksize);
        long n = rows * cols;
        long nblocks = (n + blocksize - 1) / blocksize;
        if (packed.numel() != (n + 1) / 2 || packed.scalar_type().intern() != ScalarType.Byte)
            throw new IllegalArgumentException("packed weight must be U8 with " + (n + 1) / 2 + " bytes for shape [" + rows + ", " + cols + "], got " + packed.numel());
        if (absmax.numel() != nblocks)
            throw new IllegalArgumentException("absmax must have " + nblocks + " entries (blocksize " + blocksize + "), got " + absmax.numel());
        if ((nested == null) != (absmax.scalar_type().intern() == ScalarType.Float))
            throw new IllegalArgumentException(nested == null ? "absmax must be F32 without double quantization" : "absmax must be U8 codes with double quantization");
        if (nested != null && Tensors.dtype(absmax) != ScalarType.Byte)
            throw new IllegalArgumentException("absmax must be U8 codes with double quantization, got " + Tensors.dtype(absmax));
        if (nested != null && nested.absmax().numel() != (nblocks + nested.blocksize() - 1) / nested.blocksize())
            throw new IllegalArgumentException("nested_absmax must have " + (nblocks + nested.blocksize() - 1) / nested.blocksize()
                    + " entries for " + nblocks + " blocks (nested blocksize " + nested.blocksize() + "), got " + nested.absmax().numel());
        if (quantMap.numel() != 16 || Tensors.dtype(quantMap) != ScalarType.Float)
            throw new IllegalArgumentException("quant_map must be F32 with 16 entries, got " + Tensors.dtype(quantMap) + " with " + quantMap.numel());
        if (!absmax.device().equals(packed.device()) || !quantMap.device().equals(packed.device())
                || (nested != null && !nested.absmax().device().equals(packed.device())))
            throw new IllegalArgumentException("packed weight and statistics must be on one device");
        packed.retainReference();
        absmax.retainReference();
        quantMap.retainReference();
    }

    public long nblocks() {
        return absmax.numel();
    }

    public boolean doubleQuant() {
        return nested != null;
    }

    @Override
    public long storageBytes() {
        return packed.nbytes() + absmax.nbytes() + quantMap.nbytes() + (nested == null ? 0 : nested.bytes());
    }

    @Override
    public Device device() {
        return packed.device();
    }

    @Override
    public Bnb4bitWeight to(Device d) {
        return new Bnb4bitWeight(type, rows, cols, originalDtype, blocksize, packed.to(d, ScalarType.Byte),
                absmax.to(d, absmax.scalar_type().intern()), quantMap.to(d, ScalarType.Float), nested == null ? null : nested.to(d));
    }

    @Override
    public void close() {
        packed.releaseReference();
        absmax.releaseReference();
        quantMap.releaseReference();
        if (nested != null) nested.close();
    }
}
