package org.qoft4j.trainer.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The process's resident-set high-water mark (Linux): reset it, do something, read how high it went. */
final class PeakRss {
    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private PeakRss() {}

    static boolean supported() {
        return Files.isReadable(STATUS) && Files.isWritable(CLEAR_REFS);
    }

    /** Sets the high-water mark to the current resident size. */
    static void reset() throws IOException {
        Files.writeString(CLEAR_REFS, "5");
    }

    static long peakBytes() throws IOException {
        return field("VmHWM:");
    }

    static long currentBytes() throws IOException {
        return field("VmRSS:");
    }

    private static long field(String name) throws IOException {
        for (String line : Files.readAllLines(STATUS))
            if (line.startsWith(name)) return Long.parseLong(line.substring(name.length()).trim().split("\\s+")[0]) * 1024;
        throw new IOException(name + " not in " + STATUS);
    }
}
