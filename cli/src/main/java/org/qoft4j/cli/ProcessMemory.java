package org.qoft4j.cli;

import org.qoft4j.core.memory.ResidentMemory;

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
}
