package org.qoft4j.trainer.cli;

import org.qoft4j.trainer.metrics.ByteSizes;
import org.qoft4j.trainer.metrics.ResidentMemory;

/** Resident memory of this process as Linux reports it in /proc/self/status (JVM, heap and native libtorch memory together). */
final class ProcessMemory {
    private ProcessMemory() {}

    /** Peak resident set size (VmHWM) in bytes, or -1 where /proc is unavailable. */
    static long peakRssBytes() {
        return ResidentMemory.available() ? ResidentMemory.peakBytes() : -1;
    }

    /** Current resident set size (VmRSS) in bytes, or -1. */
    static long rssBytes() {
        return ResidentMemory.available() ? ResidentMemory.currentBytes() : -1;
    }

    /** 1536 -> "1.5 KiB"; binary units, as memory is counted. */
    static String human(long bytes) {
        return ByteSizes.human(bytes);
    }
}
