package org.qoft4j.gguf;

/**
 * The value types of GGUF metadata (GGUF v3, docs/GGUF.md): the id stored before each value, and the size in bytes of
 * the fixed-size ones (0 for strings and arrays).
 */
public enum GgufValueType {
    UINT8(0, 1), INT8(1, 1), UINT16(2, 2), INT16(3, 2), UINT32(4, 4), INT32(5, 4), FLOAT32(6, 4), BOOL(7, 1),
    STRING(8, 0), ARRAY(9, 0), UINT64(10, 8), INT64(11, 8), FLOAT64(12, 8);

    private final int id;
    private final int size;

    GgufValueType(int id, int size) {
        this.id = id;
        this.size = size;
    }

    public int id() {
        return id;
    }

    /** Bytes of one value; 0 for STRING and ARRAY (variable length). */
    public int size() {
        return size;
    }

    public boolean isInteger() {
        return this != FLOAT32 && this != FLOAT64 && this != BOOL && this != STRING && this != ARRAY;
    }

    /** The type with this id, or null when the id is not a GGUF value type. */
    public static GgufValueType of(int id) {
        for (GgufValueType t : values()) if (t.id == id) return t;
        return null;
    }
}
