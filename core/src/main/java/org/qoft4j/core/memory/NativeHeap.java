package org.qoft4j.core.memory;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Structure;

/**
 * Bytes the C heap has handed out and not taken back, as glibc's {@code mallinfo2()} counts them (in use in every
 * arena plus mmapped blocks). libtorch's CPU allocator takes tensor memory from {@code malloc}, so the difference of
 * two readings is what the tensors created (and not freed) between them occupy — unlike resident memory, which
 * also keeps blocks glibc holds after they were freed. Used to measure how much one decoder layer's autograd
 * graph takes (docs/DESIGN.md, "One training step"). Not available off glibc ({@link #available()}).
 */
public final class NativeHeap {
    private static final Function MALLINFO2 = lookup();

    private NativeHeap() {}

    /** glibc's {@code struct mallinfo2}: ten {@code size_t} fields. */
    @Structure.FieldOrder({"arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"})
    public static final class MallInfo2 extends Structure implements Structure.ByValue {
        public long arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }

    /** True where the C library has {@code mallinfo2} (glibc 2.33 and later). */
    public static boolean available() {
        return MALLINFO2 != null;
    }

    /** Bytes allocated with malloc and not yet freed, mmapped blocks included; -1 where {@link #available()} is false. */
    public static long liveBytes() {
        if (MALLINFO2 == null) return -1;
        MallInfo2 m = (MallInfo2) MALLINFO2.invoke(MallInfo2.class, new Object[0]);
        return m.uordblks + m.hblkhd;
    }

    private static Function lookup() {
        try {
            return NativeLibrary.getInstance("c").getFunction("mallinfo2");
        } catch (UnsatisfiedLinkError e) {
            return null; // not glibc, or glibc older than 2.33
        }
    }
}
