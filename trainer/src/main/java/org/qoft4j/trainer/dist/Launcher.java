package org.qoft4j.trainer.dist;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.qoft4j.core.ChildJvm;

/**
 * Starts the workers of one machine as child JVMs and waits for them, like {@code torchrun}: each gets the
 * {@link DistEnv} contract in its environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
 * MASTER_PORT), this JVM's class path and options, and its share of the CPU cores.
 *
 * <ul>
 *   <li>Threads: each worker sees {@code cores / nproc-per-node} processors ({@code -XX:ActiveProcessorCount}, so
 *       {@code Runtime.availableProcessors()} and every "all cores" default in the worker agree) and
 *       {@code OMP_NUM_THREADS} is set to the same number.
 *   <li>Logs: worker K's stdout and stderr are appended to {@code logDir/rank-K.log} (after a line saying when it
 *       started); the first worker's lines are also passed to the console.
 *   <li>Failure: when a worker exits with a non-zero status or dies, the others are stopped (SIGTERM, then SIGKILL
 *       after the stop grace) and {@link #run} throws, naming the rank, its status and its last log lines.
 *   <li>No orphans: if this JVM ends (normally, by a signal, or by kill -9) the workers end too: a shutdown hook
 *       stops them, and each worker's {@link WorkerMain} exits when its stdin pipe from this JVM closes.
 * </ul>
 */
public final class Launcher {
    private static final int TAIL_LINES = 30;

    private final LaunchPlan plan;
    private final Path logDir;
    private final int threadsPerWorker;
    private final Duration stopGrace;
    private final List<String> jvmOptions;
    private final Consumer<String> console;

    /**
     * @param plan             the machine's share of the run (a free loopback port is picked when its port is 0)
     * @param logDir           where rank-K.log files go (OUT/logs)
     * @param threadsPerWorker CPU threads per worker; 0 = the cores divided among the workers (at least 1)
     * @param stopGrace        how long a stopped worker may take to exit after SIGTERM before SIGKILL
     * @param jvmOptions       extra options for the worker JVMs (after this JVM's -Xmx/-Xss/-D ones)
     * @param console          receives the first worker's output lines (e.g. System.out::println), or null
     */
    public Launcher(LaunchPlan plan, Path logDir, int threadsPerWorker, Duration stopGrace, List<String> jvmOptions, Consumer<String> console) {
        if (threadsPerWorker < 0) throw new IllegalArgumentException("threadsPerWorker must be >= 0, got " + threadsPerWorker);
        this.plan = plan;
        this.logDir = logDir;
        this.threadsPerWorker = threadsPerWorker;
        this.stopGrace = stopGrace;
        this.jvmOptions = List.copyOf(jvmOptions);
        this.console = console;
    }

    /** The defaults: threads = cores / workers, 5 s stop grace, no extra JVM options, first worker echoed to stdout. */
    public static Launcher of(LaunchPlan plan, Path logDir) {
        return new Launcher(plan, logDir, 0, Duration.ofSeconds(5), List.of(), System.out::println);
    }

    /** CPU threads each worker gets: the configured number, or the cores divided among the workers. */
    public int threadsPerWorker() {
        return threadsPerWorker > 0 ? threadsPerWorker : Math.max(1, Runtime.getRuntime().availableProcessors() / plan.nprocPerNode());
    }

    /**
     * Runs {@code mainClass.main(args)} in each worker and waits for all of them.
     *
     * @throws WorkerFailedException when a worker failed; the others have been stopped by then
     */
    public void run(String mainClass, List<String> args) {
        LaunchPlan p = plan.withFreePortIfUnset();
        int threads = threadsPerWorker();
        List<Worker> workers = new ArrayList<>();
        BlockingQueue<Worker> exits = new LinkedBlockingQueue<>();
        Thread reaper = new Thread(() -> stopAll(workers), "qoft4j-launcher-reaper");
        Runtime.getRuntime().addShutdownHook(reaper);
        try {
            Files.createDirectories(logDir);
            for (int local = 0; local < p.nprocPerNode(); local++) {
                DistEnv env = p.worker(local);
                List<String> workerArgs = new ArrayList<>();
                workerArgs.add(mainClass);
                workerArgs.addAll(args);
                List<String> opts = new ArrayList<>(jvmOptions);
                opts.add("-XX:ActiveProcessorCount=" + threads);
                ProcessBuilder pb = ChildJvm.processBuilder(WorkerMain.class.getName(), opts, workerArgs);
                pb.environment().putAll(env.toEnvironment());
                pb.environment().put("OMP_NUM_THREADS", Integer.toString(threads));
                pb.environment().put(WorkerMain.WATCHDOG_ENV, "1");
                Worker w = new Worker(env, logDir.resolve("rank-" + env.rank() + ".log"), local == 0 ? console : null);
                synchronized (workers) {
                    w.start(pb);
                    workers.add(w);
                }
                w.process.onExit().thenRun(() -> exits.add(w));
            }
            awaitAll(workers, exits);
        } catch (IOException e) {
            stopAll(workers);
            throw new UncheckedIOException("cannot start the workers (logs: " + logDir + "): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            stopAll(workers);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the workers; they were stopped", e);
        } finally {
            for (Worker w : workers) w.joinPump();
            try {
                Runtime.getRuntime().removeShutdownHook(reaper);
            } catch (IllegalStateException e) {
                // already shutting down: the hook runs
            }
        }
    }

    private void awaitAll(List<Worker> workers, BlockingQueue<Worker> exits) throws InterruptedException {
        Worker first = null;
        List<Worker> failed = new ArrayList<>();
        long killAt = Long.MAX_VALUE;
        int left = workers.size();
        while (left > 0) {
            long wait = killAt == Long.MAX_VALUE ? Long.MAX_VALUE : Math.max(1, killAt - System.nanoTime());
            Worker w = exits.poll(wait, TimeUnit.NANOSECONDS);
            if (w == null) {  // the stop grace passed: force the stragglers
                for (Worker x : workers) x.process.destroyForcibly();
                killAt = Long.MAX_VALUE;
                continue;
            }
            left--;
            int status = w.process.exitValue();
            if (status != 0 && !w.stoppedByUs) {
                failed.add(w);
                if (first == null) {
                    first = w;
                    for (Worker x : workers) if (x.process.isAlive()) {
                        x.stoppedByUs = true;
                        x.process.destroy();
                    }
                    killAt = System.nanoTime() + stopGrace.toNanos();
                }
            }
        }
        if (first == null) return;
        first.joinPump();
        StringBuilder m = new StringBuilder();
        m.append("rank ").append(first.env.rank()).append(" of ").append(first.env.worldSize()).append(" failed: ").append(describe(first.process.exitValue()))
                .append(" (log: ").append(first.log).append(")");
        for (Worker w : failed) if (w != first)
            m.append("; then rank ").append(w.env.rank()).append(": ").append(describe(w.process.exitValue()));
        List<Integer> stopped = new ArrayList<>();
        for (Worker w : workers) if (w.stoppedByUs) stopped.add(w.env.rank());
        if (!stopped.isEmpty()) m.append("; stopped ").append(stopped.size() == 1 ? "rank " : "ranks ").append(joinInts(stopped));
        m.append(". Last lines of rank ").append(first.env.rank()).append(":\n  ").append(String.join("\n  ", first.tail()));
        throw new WorkerFailedException(first.env.rank(), first.process.exitValue(), m.toString());
    }

    /** "exited with status 1", or "killed by signal 9 (SIGKILL: kill -9 or the out-of-memory killer)" for status 137. */
    static String describe(int status) {
        if (status > 128 && status < 128 + 65) {
            int sig = status - 128;
            String name = switch (sig) {
                case 9 -> "SIGKILL: kill -9 or the out-of-memory killer";
                case 15 -> "SIGTERM";
                case 6 -> "SIGABRT: a native abort";
                case 11 -> "SIGSEGV: a native crash";
                case 2 -> "SIGINT";
                default -> "signal " + sig;
            };
            return "killed by signal " + sig + " (" + name + ", exit status " + status + ")";
        }
        if (status == WorkerMain.ORPHANED_STATUS) return "exited with status " + status + " (it lost its launcher)";
        return "exited with status " + status;
    }

    private void stopAll(List<Worker> workers) {
        List<Worker> snapshot;
        synchronized (workers) {
            snapshot = new ArrayList<>(workers);
        }
        for (Worker w : snapshot) if (w.process.isAlive()) {
            w.stoppedByUs = true;
            w.process.destroy();
        }
        long deadline = System.nanoTime() + stopGrace.toNanos();
        for (Worker w : snapshot) {
            try {
                if (!w.process.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) w.process.destroyForcibly();
            } catch (InterruptedException e) {
                w.process.destroyForcibly();
            }
        }
    }

    private static String joinInts(List<Integer> xs) {
        StringBuilder b = new StringBuilder();
        for (int x : xs) b.append(b.length() == 0 ? "" : ", ").append(x);
        return b.toString();
    }

    /** One worker process, its log pump and the last lines it wrote. */
    private static final class Worker {
        final DistEnv env;
        final Path log;
        final Consumer<String> echo;
        final Deque<String> tail = new ArrayDeque<>();
        Process process;
        Thread pump;
        volatile boolean stoppedByUs;

        Worker(DistEnv env, Path log, Consumer<String> echo) {
            this.env = env;
            this.log = log;
            this.echo = echo;
        }

        void start(ProcessBuilder pb) throws IOException {
            // appended: a resumed run keeps the log of the run it resumes (what failed there)
            BufferedWriter w = Files.newBufferedWriter(log, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            w.write("==== " + java.time.Instant.now() + ": rank " + env.rank() + " of " + env.worldSize() + " started by the launcher");
            w.newLine();
            w.flush();
            try {
                process = pb.start();
            } catch (IOException e) {
                w.close();
                throw e;
            }
            pump = new Thread(() -> pump(w), "qoft4j-log-rank-" + env.rank());
            pump.setDaemon(true);
            pump.start();
        }

        private void pump(BufferedWriter w) {
            try (w; BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    w.write(line);
                    w.newLine();
                    w.flush();
                    if (echo != null) echo.accept(line);
                    synchronized (tail) {
                        tail.addLast(line);
                        if (tail.size() > TAIL_LINES) tail.removeFirst();
                    }
                }
            } catch (IOException e) {
                // the worker's pipe broke (it was killed): what was read is in the log
            }
        }

        void joinPump() {
            if (pump == null) return;
            try {
                pump.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        List<String> tail() {
            synchronized (tail) {
                return tail.isEmpty() ? List.of("(no output)") : new ArrayList<>(tail);
            }
        }
    }

    /** A worker exited with a non-zero status or was killed; the other workers were stopped. */
    public static final class WorkerFailedException extends RuntimeException {
        private final int rank;
        private final int status;

        public WorkerFailedException(int rank, int status, String message) {
            super(message);
            this.rank = rank;
            this.status = status;
        }

        /** The rank that failed first. */
        public int rank() {
            return rank;
        }

        /** Its exit status (128 + signal when killed by a signal). */
        public int status() {
            return status;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "WorkerFailedException(rank %d, status %d): %s", rank, status, getMessage());
        }
    }
}
