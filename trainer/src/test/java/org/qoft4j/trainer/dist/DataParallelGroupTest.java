package org.qoft4j.trainer.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.Reader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.qoft4j.core.Tensors;
import org.qoft4j.core.ChildJvm;

/**
 * The data-parallel group on loopback: two worker JVMs (started by {@link Launcher}) run every collective against
 * values they can compute alone ({@link GroupProbe}); a peer killed with kill -9, or stopped (hung), makes the other
 * fail with a message naming it; start-up errors (port in use, unreachable master, a rank that never joins, NCCL on
 * the CPU build) are clear and come within the join timeout.
 */
class DataParallelGroupTest {
    /** Worker JVMs compile with C1 only: they run for seconds, and start ~2 s sooner on 2 cores (measured). */
    static final List<String> FAST_START = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");

    @TempDir
    Path tmp;

    @BeforeAll
    static void loadLibtorch() {
        Loader.load(org.bytedeco.pytorch.global.torch.class);  // so that timings below do not include loading it
    }

    @Test
    void twoProcessesAgreeOnEveryCollective() throws IOException {
        Launcher launcher = new Launcher(LaunchPlan.standalone(2), tmp.resolve("logs"), 1, Duration.ofSeconds(5), FAST_START, null);
        launcher.run(GroupProbe.class.getName(), List.of("collectives", tmp.toString()));
        Properties[] p = {load(tmp.resolve("rank-0.properties")), load(tmp.resolve("rank-1.properties"))};
        for (int r = 0; r < 2; r++) {
            Properties q = p[r];
            String who = "rank " + r + ": " + q;
            assertEquals("GLOO", q.getProperty("backend"), who);
            assertEquals("1", q.getProperty("availableProcessors"), who);
            assertEquals("1", q.getProperty("OMP_NUM_THREADS"), who);
            // 1 + 2 = 3 everywhere in a; b = 3 * [0..4]
            assertEquals(List.of(3.0f), distinct(q.getProperty("known.a")), who);
            assertEquals("[0.0, 3.0, 6.0, 9.0, 12.0]", q.getProperty("known.b"), who);
            // two ranks: each sum is one fp32 addition, the same whichever rank adds, so the match is exact
            assertEquals(0.0, Double.parseDouble(q.getProperty("bucketed.maxAbsError")), who);
            assertTrue(Double.parseDouble(q.getProperty("bucketed.maxAbsValue")) > 1, who);
            assertEquals(String.valueOf(GroupProbe.SIZES.length + 2), q.getProperty("bucketed.tensors"), who);
            // 64 KiB cap: the float64 tensor and the large ones force several buckets
            assertTrue(Integer.parseInt(q.getProperty("bucketed.buckets")) >= 4, who);
            assertEquals("3.0,3000.0," + ((1L << 40) * 2 + 1), q.getProperty("scalars"), who);
            assertEquals("[10.0, 10.0, 10.0, 10.0]", q.getProperty("broadcast.param"), who);
            assertEquals("true", q.getProperty("broadcast.paramRequiresGrad"), who);
            assertEquals(List.of(-1.0f), distinct(q.getProperty("broadcast.plain")), who);
            assertEquals("[1, 8]", q.getProperty("gather.long"), who);
            assertEquals("rank-0|rank-1xxx", q.getProperty("gather.bytes"), who);
            assertEquals("true", q.getProperty("same.ok"), who);
            String mismatch = q.getProperty("mismatch");
            assertTrue(mismatch.contains("configuration hash") && mismatch.contains("rank 1 differs from rank 0"), who);
            assertEquals("passed", q.getProperty("barrier"), who);
        }
        assertTrue(Files.size(tmp.resolve("logs/rank-0.log")) > 0 && Files.exists(tmp.resolve("logs/rank-1.log")));
    }

    /** kill -9 of rank 1 (a worker) or of rank 0 (which also serves the store): the survivor names the dead rank. */
    @ParameterizedTest
    @ValueSource(ints = {1, 0})
    void killedPeerFailsTheOtherWithItsRank(int victim) throws Exception {
        long timeoutMs = 20_000;  // far above the expected reaction: a killed peer's sockets close at once
        List<Process> ps = startFaultProbes(timeoutMs);
        try {
            long pid = awaitReady(ps, victim);
            awaitReady(ps, 1 - victim);
            long t0 = System.nanoTime();
            assertEquals(pid, ps.get(victim).pid());
            ps.get(victim).destroyForcibly();  // SIGKILL
            Process survivor = ps.get(1 - victim);
            assertTrue(survivor.waitFor(timeoutMs, TimeUnit.MILLISECONDS), "the survivor did not fail within the collective timeout");
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertEquals(3, survivor.exitValue(), log(1 - victim));
            String report = Files.readString(tmp.resolve("fault-rank-" + (1 - victim) + ".txt"));
            assertTrue(report.contains("[" + victim + "]") && report.contains("rank " + victim + " is lost"), report);
            System.out.printf("kill -9 of rank %d: rank %d failed %.2f s later: %s%n", victim, 1 - victim, seconds, report.lines().skip(2).findFirst().orElse(""));
        } finally {
            for (Process p : ps) p.destroyForcibly();
        }
    }

    /** A peer that hangs (SIGSTOP) holds its sockets open: the collective timeout ends the wait, naming it. */
    @Test
    void hungPeerFailsTheOtherAfterTheCollectiveTimeout() throws Exception {
        long timeoutMs = 2_000;
        List<Process> ps = startFaultProbes(timeoutMs);
        try {
            awaitReady(ps, 0);
            long pid = awaitReady(ps, 1);
            assertEquals(0, new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start().waitFor());
            long t0 = System.nanoTime();
            assertTrue(ps.get(0).waitFor(timeoutMs + 15_000, TimeUnit.MILLISECONDS), "rank 0 did not fail");
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertEquals(3, ps.get(0).exitValue(), log(0));
            String report = Files.readString(tmp.resolve("fault-rank-0.txt"));
            assertTrue(report.contains("[1]") && report.contains("rank 1 is lost"), report);
            // not before the timeout (minus the up-to-20 ms since the last successful step)
            assertTrue(seconds >= timeoutMs / 1000.0 - 0.1, seconds + " s");
            System.out.printf("SIGSTOP of rank 1: rank 0 failed %.2f s later (timeout %.1f s, fault-report wait 1 s)%n", seconds, timeoutMs / 1000.0);
        } finally {
            for (Process p : ps) p.destroyForcibly();
        }
    }

    @Test
    void portInUseIsAClearError() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            DistEnv env = new DistEnv(0, 2, 0, 2, "127.0.0.1", taken.getLocalPort());
            GroupJoinException e = assertThrows(GroupJoinException.class, () -> DataParallelGroup.join(env, quick(Duration.ofSeconds(5))));
            assertTrue(e.getMessage().contains("port " + taken.getLocalPort()) && e.getMessage().contains("already in use"), e.getMessage());
        }
    }

    @Test
    void unreachableMasterIsAClearErrorWithinTheJoinTimeout() throws IOException {
        int port = freePort();  // nobody listens there
        DistEnv env = new DistEnv(1, 2, 1, 2, "127.0.0.1", port);
        long t0 = System.nanoTime();
        GroupJoinException e = assertThrows(GroupJoinException.class, () -> DataParallelGroup.join(env, quick(Duration.ofSeconds(2))));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(e.getMessage().contains("cannot reach the master at 127.0.0.1:" + port) && e.getMessage().contains("within 2 s"), e.getMessage());
        assertTrue(seconds < 2 + 1.5, "took " + seconds + " s for a 2 s join timeout");
    }

    @Test
    void aRankThatNeverJoinsIsNamed() throws IOException {
        DistEnv env = new DistEnv(0, 2, 0, 2, "127.0.0.1", freePort());
        long t0 = System.nanoTime();
        GroupJoinException e = assertThrows(GroupJoinException.class, () -> DataParallelGroup.join(env, quick(Duration.ofSeconds(2))));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(e.getMessage().contains("did not form within 2 s") && e.getMessage().contains("not joined: rank 1"), e.getMessage());
        assertTrue(seconds < 2 + 3, "took " + seconds + " s for a 2 s join timeout");
    }

    @Test
    void ncclOnTheCpuBuildIsAClearError() {
        DistEnv env = new DistEnv(0, 1, 0, 1, "127.0.0.1", 29500);
        GroupJoinException e = assertThrows(GroupJoinException.class,
                () -> DataParallelGroup.join(env, quick(Duration.ofSeconds(2)).withBackend(DistOptions.Backend.NCCL), new Device("cpu")));
        assertTrue(e.getMessage().contains("nccl backend needs CUDA tensors"), e.getMessage());
    }

    /** In one process (a group of one), the bucketing keeps order, dtypes and strides, and survives its scope. */
    @Test
    void groupOfOneReturnsTheTensorsUnchanged() throws IOException {
        DistEnv env = new DistEnv(0, 1, 0, 1, "127.0.0.1", freePort());
        try (DataParallelGroup g = DataParallelGroup.join(env, quick(Duration.ofSeconds(10)).withBucketBytes(256));
             PointerScope scope = new PointerScope()) {
            assertEquals(DistOptions.Backend.GLOO, g.backend());
            List<Tensor> ts = new ArrayList<>();
            List<float[]> before = new ArrayList<>();
            for (int i = 0; i < GroupProbe.SIZES.length; i++) {
                ts.add(GroupProbe.values(0, i));
                before.add(Tensors.toFloats(ts.get(i)));
            }
            PendingAllReduce p;
            try (PointerScope inner = new PointerScope()) {
                p = g.allReduceSumAsync(ts);
            }
            p.await();
            // 256-byte cap: every tensor above 64 floats is alone; small neighbours share
            assertTrue(p.bucketCount() >= 8 && p.bucketCount() < GroupProbe.SIZES.length, "buckets: " + p.bucketCount());
            for (int i = 0; i < ts.size(); i++) assertArrayEquals(before.get(i), Tensors.toFloats(ts.get(i)), "tensor " + i);
            // again with new values: the buckets come from the pool now and must carry the new values, not the old
            for (Tensor t : ts) t.mul_(new org.bytedeco.pytorch.Scalar(-2));
            g.allReduceSum(ts);
            for (int i = 0; i < ts.size(); i++) {
                float[] expected = before.get(i).clone();
                for (int j = 0; j < expected.length; j++) expected[j] *= -2;
                assertArrayEquals(expected, Tensors.toFloats(ts.get(i)), "tensor " + i + ", second round");
            }
            assertArrayEquals(new double[] {2.5, -1}, g.allReduceSum(2.5, -1), 0);
            g.barrier();
            assertEquals(3, g.stats().allReduceCalls(), "three all-reduce calls: the tensors twice and the scalars");
        }
    }

    static DistOptions quick(Duration join) {
        return DistOptions.defaults().withBackend(DistOptions.Backend.GLOO).withJoinTimeout(join).withCollectiveTimeout(Duration.ofSeconds(10));
    }

    private List<Process> startFaultProbes(long timeoutMs) throws IOException {
        LaunchPlan plan = LaunchPlan.standalone(2).withFreePortIfUnset();
        List<Process> ps = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            ProcessBuilder pb = ChildJvm.processBuilder(GroupProbe.class.getName(), concat(FAST_START, "-XX:ActiveProcessorCount=1"),
                    List.of("fault", tmp.toString(), Long.toString(timeoutMs)));
            pb.environment().putAll(plan.worker(r).toEnvironment());
            pb.redirectOutput(tmp.resolve("probe-" + r + ".log").toFile());
            ps.add(pb.start());
        }
        return ps;
    }

    /** Waits until rank r has joined and all-reduced once; returns its pid. */
    private long awaitReady(List<Process> ps, int r) throws Exception {
        Path ready = tmp.resolve("ready-" + r);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(ready)) {
            assertTrue(ps.get(r).isAlive(), "rank " + r + " died before it was ready: " + log(r));
            assertTrue(System.nanoTime() < deadline, "rank " + r + " not ready after 60 s: " + log(r));
            Thread.sleep(50);
        }
        return Long.parseLong(Files.readString(ready).trim());
    }

    private String log(int r) throws IOException {
        Path p = tmp.resolve("probe-" + r + ".log");
        return Files.exists(p) ? Files.readString(p) : "(no log)";
    }

    private static List<String> concat(List<String> a, String b) {
        List<String> out = new ArrayList<>(a);
        out.add(b);
        return out;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    private static Properties load(Path p) throws IOException {
        Properties q = new Properties();
        try (Reader r = Files.newBufferedReader(p)) {
            q.load(r);
        }
        return q;
    }

    private static List<Float> distinct(String floats) {
        List<Float> out = new ArrayList<>();
        for (String s : floats.replaceAll("[\\[\\]]", "").split(",\\s*")) {
            float f = Float.parseFloat(s);
            if (!out.contains(f)) out.add(f);
        }
        return out;
    }
}
