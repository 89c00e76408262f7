package org.qoft4j.core.memory;

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
