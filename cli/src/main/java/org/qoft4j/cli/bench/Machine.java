package org.qoft4j.cli.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import org.qoft4j.trainer.Mfu;

/**
 * Where a measurement ran, for reports: CPU model and cores, the GPU when running on CUDA, the JVM and the date.
 *
 * @param gpu null unless the measured device is CUDA
 */
public record Machine(String cpu, int cores, String gpu, String java, String date) {
    public static Machine here(boolean cuda) {
        return new Machine(cpuModel(), Runtime.getRuntime().availableProcessors(), cuda ? Mfu.gpuName() : null,
                System.getProperty("java.version"), LocalDate.now().toString());
    }

    /** {@code "AMD EPYC, 2 cores, JDK 17.0.15, 2026-11-26"} (plus the GPU). */
    public String describe() {
        return cpu + ", " + cores + " cores" + (gpu != null ? ", GPU " + gpu : "") + ", JDK " + java + ", " + date;
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo")))
                if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).trim();
        } catch (IOException | RuntimeException e) {
            // not Linux: fall through
        }
        return System.getProperty("os.arch");
    }
}
