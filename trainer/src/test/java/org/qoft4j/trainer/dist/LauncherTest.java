package org.qoft4j.trainer.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.qoft4j.core.ChildJvm;

/**
 * {@link Launcher}: a worker that fails or is killed stops the others and is named; the first worker's output reaches
 * the console and every worker has its log; workers do not outlive a launcher that is killed (kill -9 or SIGTERM).
 */
class LauncherTest {
    @TempDir
    Path tmp;

    @Test
    void failingWorkerStopsTheOthersAndIsNamed() throws Exception {
        List<String> console = Collections.synchronizedList(new ArrayList<>());
        Launcher l = new Launcher(LaunchPlan.standalone(2), tmp.resolve("logs"), 1, Duration.ofSeconds(5), List.of(), console::add);
        long t0 = System.nanoTime();
        Launcher.WorkerFailedException e = assertThrows(Launcher.WorkerFailedException.class,
                () -> l.run(LauncherProbe.class.getName(), List.of("fail", tmp.toString(), "1", "3")));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(1, e.rank());
        assertEquals(3, e.status());
        assertTrue(e.getMessage().startsWith("rank 1 of 2 failed: exited with status 3") && e.getMessage().contains("stopped rank 0")
                && e.getMessage().contains("rank 1 gives up"), e.getMessage());
        assertTrue(seconds < 30, "took " + seconds + " s: rank 0 (a 60 s sleeper) was not stopped");
        assertFalse(alive(pid("pid-0")), "rank 0 still runs");
        // rank 0 echoed to the console, rank 1 not; each has its log
        assertTrue(console.contains("hello from rank 0 (1 processors)"), console.toString());
        assertTrue(console.stream().noneMatch(s -> s.contains("rank 1")), console.toString());
        assertTrue(Files.readString(tmp.resolve("logs/rank-1.log")).contains("hello from rank 1"));
        assertTrue(Files.readString(tmp.resolve("logs/rank-0.log")).contains("hello from rank 0"));
    }

    @Test
    void workerKilledWithSigkillIsReportedAsSuch() throws Exception {
        Launcher l = new Launcher(LaunchPlan.standalone(2), tmp.resolve("logs"), 1, Duration.ofSeconds(5), List.of(), null);
        CompletableFuture<Throwable> run = CompletableFuture.supplyAsync(() -> {
            try {
                l.run(LauncherProbe.class.getName(), List.of("sleep", tmp.toString()));
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        long victim = pid("pid-0"), other = pid("pid-1");
        ProcessHandle.of(victim).orElseThrow().destroyForcibly();
        Throwable t = run.get(30, TimeUnit.SECONDS);
        assertTrue(t instanceof Launcher.WorkerFailedException, String.valueOf(t));
        assertTrue(t.getMessage().startsWith("rank 0 of 2 failed: killed by signal 9 (SIGKILL") && t.getMessage().contains("stopped rank 1"),
                t.getMessage());
        assertFalse(alive(other), "rank 1 still runs");
    }

    /** The launcher JVM dies: by kill -9 (no shutdown hook runs: the workers' lifeline pipe closes) or by SIGTERM. */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void workersDieWithTheirLauncher(boolean sigkill) throws Exception {
        Process launcher = ChildJvm.processBuilder(LauncherProbe.class.getName(), List.of(), List.of("launch", tmp.toString()))
                .redirectOutput(tmp.resolve("launcher.log").toFile()).start();
        try {
            long w0 = pid("pid-0"), w1 = pid("pid-1");
            assertTrue(alive(w0) && alive(w1));
            if (sigkill) launcher.destroyForcibly();
            else launcher.destroy();
            assertTrue(launcher.waitFor(20, TimeUnit.SECONDS));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while ((alive(w0) || alive(w1)) && System.nanoTime() < deadline) Thread.sleep(50);
            assertFalse(alive(w0) || alive(w1), "workers outlived their launcher (" + (sigkill ? "kill -9" : "SIGTERM") + ")");
        } finally {
            launcher.destroyForcibly();
            for (String f : new String[] {"pid-0", "pid-1"})
                if (Files.exists(tmp.resolve(f))) ProcessHandle.of(Long.parseLong(Files.readString(tmp.resolve(f)).trim())).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    @Test
    void describesExitStatuses() {
        assertEquals("exited with status 1", Launcher.describe(1));
        assertTrue(Launcher.describe(137).startsWith("killed by signal 9 (SIGKILL"));
        assertTrue(Launcher.describe(143).startsWith("killed by signal 15 (SIGTERM"));
    }

    private long pid(String name) throws Exception {
        Path p = tmp.resolve(name);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(p)) {
            assertTrue(System.nanoTime() < deadline, name + " not written within 30 s");
            Thread.sleep(20);
        }
        return Long.parseLong(Files.readString(p).trim());
    }

    private static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }
}
