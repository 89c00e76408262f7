package org.qoft4j.core.safetensors;

import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The safetensors element types this project reads and writes, with their libtorch equivalents.
 * Declaration order is the safetensors library's alignment order (ascending), which its writer
 * uses to lay tensors out (largest alignment first).
 */
public enum DType {
    BOOL(1, ScalarType.Bool),
    U8(1, ScalarType.Byte),
    I8(1, ScalarType.Char),
    I16(2, ScalarType.Short),
    F16(2, ScalarType.Half),
    BF16(2, ScalarType.BFloat16),
    I32(4, ScalarType.Int),
    F32(4, ScalarType.Float),
    F64(8, ScalarType.Double),
    I64(8, ScalarType.Long);

    private final int size;
    private final ScalarType scalarType;

    DType(int size, ScalarType scalarType) {
        this.size = size;
        this.scalarType = scalarType;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    public ScalarType scalarType() {
        return scalarType;
    }

    /** The dtype named as in a safetensors header ("F32", "BF16", ...), or null when unknown. */
    public static DType fromName(String name) {
        for (DType d : values()) if (d.name().equals(name)) return d;
        return null;
    }

    /** The safetensors dtype of a libtorch scalar type; {@link IllegalArgumentException} for types safetensors files here cannot hold. */
    public static DType of(ScalarType t) {
        // JavaCPP may hand back enum objects that are not the constants: compare the native values.
        for (DType d : values()) if (d.scalarType.value == t.value) return d;
        throw new IllegalArgumentException("no safetensors dtype for libtorch " + t + "; supported: BOOL, U8, I8, I16, F16, BF16, I32, F32, F64, I64");
    }
}
