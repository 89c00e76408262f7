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
        assertEquals(OptionalLong.of(2_000_000L * 1024), FreeMemory.cpu(meminfo("MemAvailable:    2000000 kB\n"), cg, dir.resolve("no-self-cgroup")));
    }

    @Test
    void aCgroupV2LimitBelowTheHostsFreeMemoryWins() throws IOException {
        Path cg = Files.createDirectories(dir.resolve("cg"));
        Files.writeString(cg.resolve("memory.max"), "1073741824\n");
        Files.writeString(cg.resolve("memory.current"), "268435456\n");
        assertEquals(OptionalLong.of(805_306_368L), FreeMemory.cpu(meminfo("MemAvailable:    2000000 kB\n"), cg, dir.resolve("no-self-cgroup")));
    }

    @Test
    void cgroupV1AndItsNoLimitValue() throws IOException {
        Path cg = Files.createDirectories(dir.resolve("cg/memory")).getParent();
        Files.writeString(cg.resolve("memory/memory.limit_in_bytes"), "9223372036854771712\n");
        Files.writeString(cg.resolve("memory/memory.usage_in_bytes"), "1000\n");
        assertEquals(OptionalLong.of(2_000_000L * 1024), FreeMemory.cpu(meminfo("MemAvailable:    2000000 kB\n"), cg, dir.resolve("no-self-cgroup")));
        Files.writeString(cg.resolve("memory/memory.limit_in_bytes"), "1000000\n");
        assertEquals(OptionalLong.of(999_000L), FreeMemory.cpu(meminfo("MemAvailable:    2000000 kB\n"), cg, dir.resolve("no-self-cgroup")));
    }

    /** The process's own cgroup (from /proc/self/cgroup) and its ancestors: the tightest limit binds. */
    @Test
    void theProcesssCgroupAndItsParentsLimits() throws IOException {
        Path cg = dir.resolve("cg");
        Path leaf = Files.createDirectories(cg.resolve("system.slice/job.service"));
        Files.writeString(leaf.resolve("memory.max"), "max\n");
        Files.writeString(leaf.resolve("memory.current"), "100\n");
        Files.writeString(leaf.getParent().resolve("memory.max"), "1048576000\n"); // the slice: 1000 MiB
        Files.writeString(leaf.getParent().resolve("memory.current"), "524288000\n"); // 500 MiB used
        Path self = Files.writeString(dir.resolve("self-cgroup"), "0::/system.slice/job.service\n");
        assertEquals(OptionalLong.of(524_288_000L), FreeMemory.cpu(meminfo("MemAvailable:    2000000 kB\n"), cg, self));

        Path v1 = Files.createDirectories(cg.resolve("memory/process_api/abc"));
        Files.writeString(v1.resolve("memory.limit_in_bytes"), "300000000\n");
        Files.writeString(v1.resolve("memory.usage_in_bytes"), "100000000\n");
        Path selfV1 = Files.writeString(dir.resolve("self-cgroup-v1"), "9:name=systemd:/\n4:memory:/process_api/abc\n0::/\n");
        assertEquals(OptionalLong.of(200_000_000L), FreeMemory.cpu(meminfo("MemAvailable:    2000000 kB\n"), cg, selfV1));
    }

    @Test
    void unknownWhereNothingIsReadable() throws IOException {
        assertTrue(FreeMemory.cpu(dir.resolve("absent"), dir.resolve("absent-cg"), dir.resolve("absent-self")).isEmpty());
        assertTrue(FreeMemory.cpu(meminfo(""), dir.resolve("absent-cg"), dir.resolve("absent-self")).isEmpty(), "a meminfo without MemAvailable");
    }

    @Test
    void thisMachineReportsSomethingPlausible() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/meminfo")), "Linux only");
        long free = FreeMemory.availableBytes(new org.bytedeco.pytorch.Device("cpu")).orElse(-1);
        assertTrue(free > 16L << 20, "free memory " + free);
    }
}
