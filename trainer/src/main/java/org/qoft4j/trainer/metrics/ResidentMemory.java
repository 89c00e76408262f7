package org.qoft4j.trainer.metrics;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process's resident memory as Linux reports it in {@code /proc/self/status}: current ({@code VmRSS}) and
 * high-water mark ({@code VmHWM}), which {@link #resetPeak()} lowers to the current value. Native (libtorch)
 * memory is invisible to the JVM, so this is how peak memory is measured.
 */
public final class ResidentMemory {
    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private ResidentMemory() {}

    /** True where {@code /proc/self/status} exists (Linux). */
    public static boolean available() {
        return Files.isReadable(STATUS);
    }

    /** True where the peak can be reset ({@code /proc/self/clear_refs} is writable). */
    public static boolean peakResettable() {
        return Files.isWritable(CLEAR_REFS);
    }

    /** Lowers the high-water mark to the current resident size. */
    public static void resetPeak() {
        try {
            Files.writeString(CLEAR_REFS, "5");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot reset the resident-memory peak via " + CLEAR_REFS, e);
        }
    }

    /**
     * Returns freed native heap memory to the operating system (glibc's {@code malloc_trim(0)}); a no-op where the C
     * library has no such function. glibc raises its mmap threshold as large blocks are freed, after which freed
     * tensors stay resident in a fragmented heap: loading a quantized model tensor by tensor would otherwise keep
     * roughly the full-precision model's worth of freed memory resident.
     */
    public static void releaseFreedNativeMemory() {
        Function trim = MALLOC_TRIM;
        if (trim != null) trim.invokeInt(new Object[] {0});
    }

    private static final Function MALLOC_TRIM = mallocTrim();

    private static Function mallocTrim() {
        try {
            return NativeLibrary.getInstance("c").getFunction("malloc_trim");
        } catch (UnsatisfiedLinkError e) {
            return null; // not glibc
        }
    }

    public static long currentBytes() {
        return field("VmRSS:");
    }

    public static long peakBytes() {
        return field("VmHWM:");
    }

    private static long field(String name) {
        try {
            for (String line : Files.readAllLines(STATUS))
                if (line.startsWith(name)) return Long.parseLong(line.substring(name.length()).trim().split("\\s+")[0]) * 1024;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + STATUS, e);
        }
        throw new IllegalStateException(name + " not found in " + STATUS);
    }
}
