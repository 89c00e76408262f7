package org.qoft4j.gguf;


/**
 * ggml's tensor data types as GGUF stores them: the id, the name ggml prints, and the storage unit — a block of
 * {@link #blockSize()} values in {@link #typeSize()} bytes (1 value for plain types). A row of {@code n} values
 * (ggml's {@code ne[0]}) takes {@code n / blockSize * typeSize} bytes and needs {@code n % blockSize == 0}.
 * The table is ggml's (docs/GGUF.md lists the layouts this project writes); {@link #canWrite()} marks the types
 * qoft4j quantizes to.
 */
public enum GgmlType {
    F32(0, "f32", 1, 4, true),
    F16(1, "f16", 1, 2, true),
    Q4_0(2, "q4_0", 32, 18, true),
    Q4_1(3, "q4_1", 32, 20, false),
    Q5_0(6, "q5_0", 32, 22, true),
    Q5_1(7, "q5_1", 32, 24, false),
    Q8_0(8, "q8_0", 32, 34, true),
    Q8_1(9, "q8_1", 32, 36, false),
    Q2_K(10, "q2_K", 256, 84, false),
    Q3_K(11, "q3_K", 256, 110, false),
    Q4_K(12, "q4_K", 256, 144, true),
    Q5_K(13, "q5_K", 256, 176, false),
    Q6_K(14, "q6_K", 256, 210, true),
    Q8_K(15, "q8_K", 256, 292, false),
    IQ2_XXS(16, "iq2_xxs", 256, 66, false),
    IQ2_XS(17, "iq2_xs", 256, 74, false),
    IQ3_XXS(18, "iq3_xxs", 256, 98, false),
    IQ1_S(19, "iq1_s", 256, 50, false),
    IQ4_NL(20, "iq4_nl", 32, 18, false),
    IQ3_S(21, "iq3_s", 256, 110, false),
    IQ2_S(22, "iq2_s", 256, 82, false),
    IQ4_XS(23, "iq4_xs", 256, 136, false),
    I8(24, "i8", 1, 1, false),
    I16(25, "i16", 1, 2, false),
    I32(26, "i32", 1, 4, false),
    I64(27, "i64", 1, 8, false),
    F64(28, "f64", 1, 8, false),
    IQ1_M(29, "iq1_m", 256, 56, false),
    BF16(30, "bf16", 1, 2, true),
    TQ1_0(34, "tq1_0", 256, 54, false),
    TQ2_0(35, "tq2_0", 256, 66, false),
    MXFP4(39, "mxfp4", 32, 17, false),
    NVFP4(40, "nvfp4", 64, 36, false),
    Q1_0(41, "q1_0", 128, 18, false),
    Q2_0(42, "q2_0", 64, 18, false);

    private final int id;
    private final String ggmlName;
    private final int blockSize;
    private final int typeSize;
    private final boolean canWrite;

    GgmlType(int id, String ggmlName, int blockSize, int typeSize, boolean canWrite) {
        this.id = id;
        this.ggmlName = ggmlName;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
        this.canWrite = canWrite;
    }

    public int id() {
        return id;
    }

    /** The name ggml and llama.cpp print ({@code q4_K}, {@code f16}, ...). */
    public String ggmlName() {
        return ggmlName;
    }

    public int blockSize() {
        return blockSize;
    }

    public int typeSize() {
        return typeSize;
    }

    /** True for the types qoft4j writes (and decodes): f32, f16, bf16, q8_0, q5_0, q4_0, q4_K, q6_K. */
    public boolean canWrite() {
        return canWrite;
    }

    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** Bytes of one row of {@code n} values; {@code n} must be a multiple of the block size. */
    public long rowBytes(long n) {
        if (n % blockSize != 0) throw new IllegalArgumentException(ggmlName + ": a row of " + n + " values is not a multiple of the block size " + blockSize);
        return n / blockSize * typeSize;
    }

    /** Bytes of a tensor with ggml dimensions {@code ne} (ne[0] = values per row). */
    public long bytes(long[] ne) {
        long rows = 1;
        for (int i = 1; i < ne.length; i++) rows = Math.multiplyExact(rows, ne[i]);
        return Math.multiplyExact(rowBytes(ne[0]), rows);
    }

    /** Bits per stored value, e.g. 4.5 for q4_K. */
    public double bitsPerWeight() {
        return typeSize * 8.0 / blockSize;
    }

    /** The type with this GGUF id, or null. */
    public static GgmlType of(int id) {
        for (GgmlType t : values()) if (t.id == id) return t;
        return null;
    }

    /** The type with this ggml name (case-insensitive), or null. */
    public static GgmlType byName(String name) {
        for (GgmlType t : values()) if (t.ggmlName.equalsIgnoreCase(name.trim())) return t;
        return null;
    }

    @Override
    public String toString() {
        return ggmlName;
    }
}
