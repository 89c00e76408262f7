package org.qoft4j.core.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FreeMemoryTest {
    @TempDir
    Path dir;

    private Path meminfo(String availableLine) throws IOException {
        return Files.writeString(dir.resolve("meminfo"), "MemTotal:       24000000 kB\nMemFree:         1000000 kB\n" + availableLine
                + "Buffers:          100000 kB\n");
    }

    @Test
    void memAvailableWithoutACgroupLimit() throws IOException {
        Path cg = Files.createDirectories(dir.resolve("cg"));
        Files.writeString(cg.resolve("memory.max"), "max\n");
        Files.writeString(cg.resolve("memory.current"), "123\n");
        assertEquals(OptionalLong.of(2_000_000L * 1024), FreeMemory.cpu(meminfo("MemAvailable:    2000000 kB\n"), cg));
    }

    @Test
    void aCgroupV2LimitBelowTheHostsFreeMemoryWins() throws IOException {
        Path cg = Files.createDirectories(dir.resolve("cg"));
        Files.writeString(cg.resolve("memory.max"), "1073741824\n");
        Files.writeString(cg.resolve("memory.current"), "268435456\n");
        assertEquals(OptionalLong.of(805_306_368L), FreeMemory.cpu(meminfo("MemAvailable:    2000000 kB\n"), cg));
    }

    @Test
    void cgroupV1AndItsNoLimitValue() throws IOException {
        Path cg = Files.createDirectories(dir.resolve("cg/memory")).getParent();
        Files.writeString(cg.resolve("memory/memory.limit_in_bytes"), "9223372036854771712\n");
        Files.writeString(cg.resolve("memory/memory.usage_in_bytes"), "1000\n");
        assertEquals(OptionalLong.of(2_000_000L * 1024), FreeMemory.cpu(meminfo("MemAvailable:    2000000 kB\n"), cg));
        Files.writeString(cg.resolve("memory/memory.limit_in_bytes"), "1000000\n");
        assertEquals(OptionalLong.of(999_000L), FreeMemory.cpu(meminfo("MemAvailable:    2000000 kB\n"), cg));
    }

    @Test
    void unknownWhereNothingIsReadable() throws IOException {
        assertTrue(FreeMemory.cpu(dir.resolve("absent"), dir.resolve("absent-cg")).isEmpty());
        assertTrue(FreeMemory.cpu(meminfo(""), dir.resolve("absent-cg")).isEmpty(), "a meminfo without MemAvailable");
    }

    @Test
    void thisMachineReportsSomethingPlausible() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/meminfo")), "Linux only");
        long free = FreeMemory.availableBytes(new org.bytedeco.pytorch.Device("cpu")).orElse(-1);
        assertTrue(free > 16L << 20, "free memory " + free);
    }
}
