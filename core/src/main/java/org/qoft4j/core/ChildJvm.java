package org.qoft4j.core;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.Consumer;

/**
 * Runs a {@code main} class in a fresh JVM with this JVM's class path, so that what it measures about itself
 * (resident high-water mark, CUDA allocator peak) belongs to that one run alone. Heap (-Xmx), stack (-Xss) and
 * system-property (-D) options of this JVM are passed on. Its stdout and stderr go, merged, line by line to a log
 * file and to a listener.
 *
 * <p>{@code OMP_WAIT_POLICY} is set to {@code PASSIVE} unless the environment names one: with libgomp's default
 * spin-waiting, libtorch's OpenMP workers compete with the JVM's own threads for the cores, and on this project's
 * 2-core machine a small model's training step took 10x longer with 2 threads than with 1 (docs/BENCHMARKS.md).
 */
public final class ChildJvm {
    private static final int TAIL_LINES = 30;

    private ChildJvm() {}

    /**
     * Runs {@code main} with {@code args} and waits for it.
     *
     * @param log    file receiving the child's output (created or replaced)
     * @param echo   receives each output line as it comes (e.g. to show progress), or null
     * @throws ChildFailedException when the child exits with a non-zero status (the message has its last lines)
     */
    public static void run(Class<?> main, List<String> args, Path log, Consumer<String> echo) {
        ProcessBuilder pb = processBuilder(main.getName(), List.of(), args);
        Deque<String> tail = new ArrayDeque<>();
        int status;
        try {
            Files.createDirectories(log.toAbsolutePath().getParent());
            Process p = pb.start();
            // a parent stopped by a signal (e.g. a time limit) takes its child along instead of leaving it holding the GPU
            Thread reaper = new Thread(p::destroyForcibly, "child-jvm-reaper");
            Runtime.getRuntime().addShutdownHook(reaper);
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                 BufferedWriter w = Files.newBufferedWriter(log, StandardCharsets.UTF_8)) {
                for (String line; (line = r.readLine()) != null; ) {
                    w.write(line);
                    w.newLine();
                    w.flush();
                    if (echo != null) echo.accept(line);
                    tail.addLast(line);
                    if (tail.size() > TAIL_LINES) tail.removeFirst();
                }
            }
            status = p.waitFor();
            Runtime.getRuntime().removeShutdownHook(reaper);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + main.getSimpleName() + " in a child JVM (log: " + log + "): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + main.getSimpleName(), e);
        }
        if (status != 0)
            throw new ChildFailedException(main.getSimpleName() + " " + String.join(" ", args) + " exited with status " + status + " (log: " + log
                    + "); its last lines:\n  " + String.join("\n  ", tail));
    }

    /**
     * A process builder for {@code mainClass} in a fresh JVM like this one (java from java.home, this class path, the
     * -Xmx/-Xss/-D options of this JVM, then {@code jvmOptions}), stdout and stderr merged, OMP_WAIT_POLICY set as
     * described above. Not started.
     */
    public static ProcessBuilder processBuilder(String mainClass, List<String> jvmOptions, List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments())
            if (a.startsWith("-Xmx") || a.startsWith("-Xss") || a.startsWith("-D")) cmd.add(a);
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (System.getenv("OMP_WAIT_POLICY") == null) pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
        return pb;
    }

    /** A child JVM that exited with a non-zero status. */
    public static final class ChildFailedException extends RuntimeException {
        public ChildFailedException(String message) {
            super(message);
        }
    }
}
