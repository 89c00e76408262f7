package org.qoft4j.core.memory;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch_cuda;

/**
 * Memory this process could still take on a device: what {@code memory-budget: auto} sizes itself from
 * (docs/DESIGN.md, "Memory policy").
 * <ul>
 *   <li>CPU (Linux): {@code MemAvailable} of {@code /proc/meminfo}, lowered to what the process's memory cgroup and
 *       its ancestors still allow (v2 {@code memory.max - memory.current}, v1 {@code memory.limit_in_bytes -
 *       memory.usage_in_bytes}) — a container's or a systemd slice's limit, not the host's free memory, is what an
 *       out-of-memory kill follows;</li>
 *   <li>CUDA: the driver's free memory ({@code cudaMemGetInfo}) plus what libtorch's caching allocator reserved and
 *       does not use (its own to hand out again). The CUDA presets are only on a GPU build's class path, so they are
 *       reached by reflection.</li>
 * </ul>
 * Empty where it cannot be known (not Linux, no cgroup files and no meminfo, a CUDA call that fails).
 */
public final class FreeMemory {
    private static final Path MEMINFO = Path.of("/proc/meminfo");
    private static final Path CGROUP = Path.of("/sys/fs/cgroup");
    private static final Path SELF_CGROUP = Path.of("/proc/self/cgroup");

    private FreeMemory() {}

    public static OptionalLong availableBytes(Device device) {
        return device.is_cuda() ? cuda(device) : cpu(MEMINFO, CGROUP, SELF_CGROUP);
    }

    /**
     * {@code MemAvailable} of {@code meminfo}, capped by the memory cgroup {@code selfCgroup} names (its directory
     * under {@code cgroupRoot} and every ancestor: a parent's limit binds too); package-private for tests.
     */
    static OptionalLong cpu(Path meminfo, Path cgroupRoot, Path selfCgroup) {
        long avail = memAvailable(meminfo);
        long cgroup = cgroupRoom(cgroupRoot, selfCgroup);
        if (avail < 0 && cgroup < 0) return OptionalLong.empty();
        if (avail < 0) return OptionalLong.of(cgroup);
        return OptionalLong.of(cgroup < 0 ? avail : Math.min(avail, cgroup));
    }

    private static long memAvailable(Path meminfo) {
        try {
            for (String line : Files.readAllLines(meminfo)) {
                if (!line.startsWith("MemAvailable:")) continue;
                String[] f = line.substring("MemAvailable:".length()).trim().split("\\s+");
                return Long.parseLong(f[0]) * (f.length > 1 && f[1].equalsIgnoreCase("kB") ? 1024 : 1);
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or a format this does not know: unknown
        }
        return -1;
    }

    /**
     * Bytes the process's memory cgroup and its ancestors still allow (the least of them), or -1 without a limit
     * (v2 "max", v1's page-rounded Long.MAX_VALUE) or files. {@code selfCgroup} lines: {@code 0::/path} (v2),
     * {@code N:memory:/path} (v1); without the file, the root's own files (a container's namespace root).
     */
    private static long cgroupRoom(Path root, Path selfCgroup) {
        String v2 = "/", v1 = "/";
        try {
            for (String line : Files.readAllLines(selfCgroup)) {
                String[] f = line.split(":", 3);
                if (f.length < 3) continue;
                if (f[0].equals("0") && f[1].isEmpty()) v2 = f[2];
                else if (java.util.Arrays.asList(f[1].split(",")).contains("memory")) v1 = f[2];
            }
        } catch (IOException | RuntimeException e) {
            // no /proc/self/cgroup: the root's files only
        }
        long room = leastRoom(root, v2, "memory.max", "memory.current");
        long roomV1 = leastRoom(root.resolve("memory"), v1, "memory.limit_in_bytes", "memory.usage_in_bytes");
        if (room < 0) return roomV1;
        return roomV1 < 0 ? room : Math.min(room, roomV1);
    }

    /** The least room over {@code base/path} and its ancestors up to {@code base}; -1 when none has a limit. */
    private static long leastRoom(Path base, String path, String limitFile, String usageFile) {
        long least = -1;
        Path dir = base.resolve(path.replaceFirst("^/+", ""));
        while (dir != null && dir.startsWith(base)) {
            long r = room(dir.resolve(limitFile), dir.resolve(usageFile));
            if (r >= 0) least = least < 0 ? r : Math.min(least, r);
            if (dir.equals(base)) break;
            dir = dir.getParent();
        }
        return least;
    }

    private static long room(Path limitFile, Path usageFile) {
        try {
            String limit = Files.readString(limitFile).trim();
            if (limit.equals("max")) return -1;
            long l = Long.parseLong(limit);
            if (l >= Long.MAX_VALUE / 2) return -1; // v1 writes "no limit" as a huge page-rounded number
            return Math.max(0, l - Long.parseLong(Files.readString(usageFile).trim()));
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static OptionalLong cuda(Device device) {
        try {
            byte index = device.has_index() ? device.index() : torch_cuda.current_device();
            if (index != torch_cuda.current_device()) return OptionalLong.empty(); // cudaMemGetInfo answers for the current device
            Class<?> cudart = Class.forName("org.bytedeco.cuda.global.cudart");
            Method memGetInfo = cudart.getMethod("cudaMemGetInfo", SizeTPointer.class, SizeTPointer.class);
            try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
                int err = (int) memGetInfo.invoke(null, free, total);
                if (err != 0) return OptionalLong.empty();
                var stats = torch_cuda.getAllocator().getDeviceStats(index);
                long cachedUnused = Math.max(0, stats.reserved_bytes().current() - stats.allocated_bytes().current());
                return OptionalLong.of(free.get() + cachedUnused);
            }
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return OptionalLong.empty();
        }
    }
}
