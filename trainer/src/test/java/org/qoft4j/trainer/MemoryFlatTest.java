package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.core.memory.ResidentMemory;

/**
 * Resident memory stays flat (within 5%) over 300 QOFT (NF4, recomputation) steps after a warm-up, and the number of
 * live native objects does not grow: every step's native tensors are scoped. Runs {@link MemoryProbe} in a child JVM whose Java heap is fixed and pre-touched
 * ({@code -Xms = -Xmx}, {@code AlwaysPreTouch}) and which compiles with C1 only, so resident-size changes are native
 * memory rather than heap growth or the C2 compiler's arenas (measured: with C2, resident memory steps up ~11 MiB once,
 * around step 200, and stays; with C1 only the 400-step drift is +1.2 MiB, 0.25%).
 */
class MemoryFlatTest {
    static final int WARMUP = 30, STEPS = 300;
    static final double TOLERANCE = 0.05;

    @TempDir
    Path tmp;

    @Test
    void residentMemoryIsFlatOver300Steps() throws IOException, InterruptedException {
        Assumptions.assumeTrue(ResidentMemory.available(), "needs /proc/self/status (Linux)");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-Xms256m", "-Xmx256m", "-XX:+AlwaysPreTouch", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", System.getProperty("java.class.path"),
                MemoryProbe.class.getName(), "oft", "true", String.valueOf(WARMUP), String.valueOf(STEPS), tmp.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "probe did not finish");
        assertEquals(0, p.exitValue(), out);
        List<Long> rss = new ArrayList<>(), objects = new ArrayList<>();
        for (String line : out.split("\n")) {
            if (!line.startsWith("rss ")) continue;
            rss.add(Long.parseLong(line.split(" ")[2]));
            objects.add(Long.parseLong(line.split(" ")[3]));
        }
        assertEquals(STEPS, rss.size(), out);
        long first = rss.get(0), min = rss.stream().min(Long::compare).orElseThrow(), max = rss.stream().max(Long::compare).orElseThrow();
        String summary = String.format("RSS after warm-up %.1f MiB; over %d steps min %.1f, max %.1f, last %.1f MiB (drift %+.2f%%)", first / 1048576.0,
                STEPS, min / 1048576.0, max / 1048576.0, rss.get(rss.size() - 1) / 1048576.0, 100.0 * (rss.get(rss.size() - 1) - first) / first);
        System.out.println(summary);
        assertTrue(max <= first * (1 + TOLERANCE) && min >= first * (1 - TOLERANCE), summary);
        // sharper than resident size on so small a model: between steps, the count of live JavaCPP objects holding native
        // memory returns to the same number, so no tensor handle of a step survives it
        assertEquals(objects.get(0), objects.get(objects.size() - 1), "live native objects after step " + (WARMUP + 1) + " and after the last step");
    }
}
