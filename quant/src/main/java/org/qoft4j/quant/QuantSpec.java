package org.qoft4j.quant;

/**
 * How to quantize one weight.
 *
 * @param type        the 4-bit format
 * @param blocksize   NF4/FP4 absmax block size (bitsandbytes default 64; any power of two 32..4096)
 * @param doubleQuant NF4/FP4 only: quantize the absmax statistics again (bnb_4bit_use_double_quant)
 * @param groupSize   INT4 only: elements per (scale, zero) group along the input dimension (default 128)
 */
public record QuantSpec(QuantType type, int blocksize, boolean doubleQuant, int groupSize) {
    public static final int DEFAULT_BLOCKSIZE = 64;
    public static final int DEFAULT_GROUP_SIZE = 128;

    public QuantSpec {
        if (type == null) throw new IllegalArgumentException("quantization type is required");
        if (type != QuantType.INT4 && (blocksize < 32 || blocksize > 4096 || Integer.bitCount(blocksize) != 1))
            throw new IllegalArgumentException("blocksize " + blocksize + " is not a power of two in 32..4096");
        if (type == QuantType.INT4 && (groupSize < 8 || groupSize % 8 != 0))
            throw new IllegalArgumentException("INT4 group size " + groupSize + " must be a positive multiple of 8");
        if (type == QuantType.INT4 && doubleQuant)
            throw new IllegalArgumentException("double quantization applies to nf4/fp4 only");
    }

    public static QuantSpec of(QuantType type) {
        return new QuantSpec(type, DEFAULT_BLOCKSIZE, false, DEFAULT_GROUP_SIZE);
    }

    public static QuantSpec nf4() {
        return of(QuantType.NF4);
    }

    public QuantSpec withDoubleQuant(boolean on) {
        return new QuantSpec(type, blocksize, on, groupSize);
    }

    public QuantSpec withBlocksize(int b) {
        return new QuantSpec(type, b, doubleQuant, groupSize);
    }

    public QuantSpec withGroupSize(int g) {
        return new QuantSpec(type, blocksize, doubleQuant, g);
    }
}
