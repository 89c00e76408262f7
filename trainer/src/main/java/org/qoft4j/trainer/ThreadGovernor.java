package org.qoft4j.trainer;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Consumer;
import org.qoft4j.core.CpuThreads;

/**
 * {@code threads: 0} on the CPU: all cores while they are free, one thread while other processes need them.
 *
 * <p>Why: every parallel op of a step waits for its slowest thread, so when another process holds a core the step
 * waits for a descheduled thread at every op. Measured on a 2-core machine (docs/BENCHMARKS.md, "Training-step
 * efficiency"): two demo trainings at once, 2 threads each, ran at 0.02–0.17x their quiet speed each; with one thread
 * each they ran at about their quiet speed. A fixed single thread costs 1.23x on a quiet machine (d 1024 model), so
 * the count follows the machine:
 * <ul>
 *   <li>on all {@code n} cores, after each step: this process's CPU time over the step's wall time times n. Below
 *       {@link #BUSY_UTILIZATION} for {@link #PATIENCE} steps in a row means the cores are shared: go to 1 thread;</li>
 *   <li>on 1 thread: the machine's idle CPU over the step (from {@code /proc/stat}). At least {@link #FREE_CORES} of
 *       a core idle for {@link #PATIENCE} steps in a row means the others are gone: back to n.</li>
 * </ul>
 * Each change is a note in the run's output. Results then match a fixed thread count to rounding only (as any change
 * of thread count does); set {@code threads} to a number for bit-for-bit reruns. Off on CUDA, in data-parallel runs
 * (each worker has its share of the cores) and where {@code /proc/stat} is missing.
 */
final class ThreadGovernor {
    static final double BUSY_UTILIZATION = 0.7;
    static final double FREE_CORES = 0.8;
    static final int PATIENCE = 3;

    private final int cores;
    private final Consumer<String> note;
    private final boolean active;
    private int threads;
    private int streak;
    private long wallAt, cpuAt;
    private long[] statAt;

    /** Active when {@code threads} is 0 (all cores) on the CPU, in a single process, on a machine with several cores. */
    ThreadGovernor(TrainConfig config, boolean distributed, Consumer<String> note) {
        this(Runtime.getRuntime().availableProcessors(), note,
                config.threads() == 0 && !config.device().isCuda() && !distributed && readStat() != null);
    }

    ThreadGovernor(int cores, Consumer<String> note, boolean active) {
        this.cores = cores;
        this.note = note;
        this.active = active && cores > 1;
        this.threads = cores;
    }

    /** Before a step: where the clocks stand. */
    void beforeStep() {
        if (!active) return;
        wallAt = System.nanoTime();
        cpuAt = processCpuNanos();
        statAt = readStat();
    }

    /** After a step: change the thread count if the machine says so. */
    void afterStep(int step) {
        if (!active || statAt == null) return;
        long wall = System.nanoTime() - wallAt, cpu = processCpuNanos() - cpuAt;
        long[] stat = readStat();
        if (wall <= 0 || cpu < 0 || stat == null) return;
        double utilization = (double) cpu / wall / threads;
        long total = stat[0] - statAt[0], idle = stat[1] - statAt[1];
        double idleCores = total <= 0 ? 0 : (double) idle / total * cores;
        int before = threads, next = observe(utilization, idleCores);
        if (next == before) return;
        String why = next == 1
                ? String.format(Locale.ROOT, "the cores are shared with other processes (this run used %.0f%% of its %d threads' time): "
                        + "training on 1 thread until a core is free", 100 * utilization, before)
                : String.format(Locale.ROOT, "%.1f of %d cores are idle again: training on %d threads", idleCores, cores, next);
        CpuThreads.use(next);
        note.accept("threads after step " + step + ": " + why);
    }

    /**
     * The decision alone: the thread count for the next step, given the step just measured — the share of its threads'
     * time this run got ({@code utilization}, read on all cores) and the machine's idle cores ({@code idleCores}, read
     * on one thread). Remembers it.
     */
    int observe(double utilization, double idleCores) {
        boolean signal = threads > 1 ? utilization < BUSY_UTILIZATION : idleCores >= FREE_CORES;
        streak = signal ? streak + 1 : 0;
        if (streak < PATIENCE) return threads;
        streak = 0;
        threads = threads > 1 ? 1 : cores;
        return threads;
    }

    int threads() {
        return threads;
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** {total, idle} jiffies of all CPUs from the first line of /proc/stat, or null where there is none. */
    static long[] readStat() {
        try {
            String line = Files.readAllLines(Path.of("/proc/stat")).get(0); // cpu user nice system idle iowait irq softirq steal ...
            String[] f = line.trim().split("\\s+");
            if (!f[0].equals("cpu") || f.length < 5) return null;
            long total = 0;
            for (int i = 1; i < Math.min(f.length, 9); i++) total += Long.parseLong(f[i]); // guest times are inside user/nice
            long idle = Long.parseLong(f[4]) + (f.length > 5 ? Long.parseLong(f[5]) : 0);
            return new long[] {total, idle};
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
