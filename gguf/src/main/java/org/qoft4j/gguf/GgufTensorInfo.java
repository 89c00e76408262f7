package org.qoft4j.gguf;

import java.util.Arrays;

/**
 * One tensor's entry in a GGUF file.
 *
 * @param ne     dimensions in ggml's order: {@code ne[0]} is the number of values in a row (the innermost, contiguous
 *               dimension), so a PyTorch {@code [out, in]} weight has {@code ne = [in, out]}
 * @param offset where its data starts, relative to the start of the file's data section (a multiple of the alignment)
 */
public record GgufTensorInfo(String name, long[] ne, GgmlType type, long offset) {
    public GgufTensorInfo {
        ne = ne.clone();
    }

    @Override
    public long[] ne() {
        return ne.clone();
    }

    public long elements() {
        long n = 1;
        for (long d : ne) n = Math.multiplyExact(n, d);
        return n;
    }

    public long bytes() {
        return type.bytes(ne);
    }

    /** The shape in PyTorch's order (outermost first): {@code ne} reversed. */
    public long[] torchShape() {
        long[] s = new long[ne.length];
        for (int i = 0; i < ne.length; i++) s[i] = ne[ne.length - 1 - i];
        return s;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensorInfo t && t.name.equals(name) && Arrays.equals(t.ne, ne) && t.type == type && t.offset == offset;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(ne);
    }

    @Override
    public String toString() {
        return name + " " + type.ggmlName() + " " + Arrays.toString(ne) + " @" + offset;
    }
}
