package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.qoft4j.core.ChildJvm;
import org.qoft4j.core.Tensors;
import org.qoft4j.core.safetensors.SafetensorsFile;
import org.qoft4j.trainer.dist.LaunchPlan;
import org.qoft4j.trainer.dist.Launcher;

/**
 * Data-parallel finetuning of the test-data model on loopback, each worker a child JVM with one thread:
 * <ul>
 *   <li>2 processes x batch b give the adapter (and losses, token counts) of 1 process x batch 2b, for QOFT (layer-wise
 *       recomputation: each layer's all-reduce overlaps the backward) and QLoRA (plain autograd, {@code --no-recompute}:
 *       all-reduce after the backward);</li>
 *   <li>rank 0 alone writes the run's files; each rank logs its adapter checksum at every checkpoint, and they agree;</li>
 *   <li>kill -9 of a worker mid-run stops the other within seconds, naming the rank and the last good checkpoint; no
 *       checkpoint is half-written; {@code resume} with 2 processes then continues bit-identically;</li>
 *   <li>a resume with another number of processes continues when the global batch is kept, and is a clear error otherwise;</li>
 *   <li>different model files on the ranks are a clear error before training.</li>
 * </ul>
 * Runs are shared between tests (one straight 2-process and one 1-process run per adapter) to keep the suite short.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DataParallelTrainingTest {
    /** Worker JVMs: C1 only (they run seconds; start ~2 s sooner on 2 cores), and info logs for the checksums. */
    static final List<String> WORKER_JVM = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dorg.slf4j.simpleLogger.defaultLogLevel=info");
    static final int STEPS = 5, B = 2;
    /**
     * fp32 all-reduce tolerance. The two runs add the same per-token gradients in a different order (each rank sums
     * its rows, then the ranks' sums are added; one process sums all rows at once), so gradients differ by rounding,
     * ~1e-7 relative, and the losses (sums of the same NLLs) agree to ~1e-6. AdamW's first steps move each element
     * by ~lr * g / |g|, which rounding cannot change unless g itself is at rounding level; after 5 steps the adapters
     * agree to ~1e-6 relative (measured ~1e-7). 1e-4 leaves room and still fails for any real difference: one
     * step with a different batch, or a gradient not summed over the ranks, moves them by 1e-2 or more.
     */
    static final double ADAPTER_RTOL = 1e-4, LOSS_RTOL = 1e-5;

    @TempDir
    static Path tmp;  // shared by the tests, as the runs are
    private final Map<String, Path> runs = new HashMap<>();

    static Path testData() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent())
            if (Files.isDirectory(p.resolve("test-data/tiny-llama"))) return p.resolve("test-data");
        throw new IllegalStateException("test-data/tiny-llama not found above " + Path.of("").toAbsolutePath());
    }

    /** The run's settings; {@code batch} rows per process. QLoRA runs with plain autograd, to cover both backward passes. */
    static List<String> settings(String adapter, Path out, int batch) {
        Path td = testData();
        return new ArrayList<>(List.of("recompute=" + adapter.equals("oft"), "model=" + td.resolve("tiny-llama"), "data=" + td.resolve("data/shift-train.jsonl"), "max-samples=120",
                "eval-fraction=0.1", "out=" + out, "adapter=" + adapter, "steps=" + STEPS, "batch-size=" + batch, "seq-len=64", "lr=4e-3",
                "warmup=1", "save-every=2", "keep-checkpoints=5", "lora-dropout=0", "threads=1", "progress=false", "dist-timeout=60"));
    }

    /** The straight 2-process run of an adapter (made once), through the launcher. */
    Path twoProcesses(String adapter) {
        return runs.computeIfAbsent("two-" + adapter, k -> {
            Path out = tmp.resolve(k);
            launch(settings(adapter, out, B), out);
            return out;
        });
    }

    /** The 1-process run with the global batch, in this JVM. */
    Path oneProcess(String adapter) {
        return runs.computeIfAbsent("one-" + adapter, k -> {
            Path out = tmp.resolve(k);
            Finetune.run(TrainConfig.defaults().with(settings(adapter, out, 2 * B).toArray(String[]::new)));
            return out;
        });
    }

    static void launch(List<String> args, Path out) {
        new Launcher(LaunchPlan.standalone(2), out.resolve("logs"), 1, Duration.ofSeconds(5), WORKER_JVM, null).run(FinetuneWorker.class.getName(), args);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"oft", "lora"})
    void twoProcessesTrainAsOneWithTheGlobalBatch(String adapter) throws IOException {
        Path two = twoProcesses(adapter), one = oneProcess(adapter);
        List<JsonNode> a = train(two), b = train(one);
        assertEquals(STEPS, a.size(), "rank 0 alone writes metrics.jsonl: one line per step");
        for (int i = 0; i < STEPS; i++) {
            JsonNode x = a.get(i), y = b.get(i);
            assertEquals(y.get("tokens").asLong(), x.get("tokens").asLong(), "step " + (i + 1) + ": the same rows, all ranks counted");
            assertEquals(y.get("scored_tokens").asLong(), x.get("scored_tokens").asLong());
            assertClose(y.get("loss").asDouble(), x.get("loss").asDouble(), LOSS_RTOL, "loss of step " + (i + 1));
            JsonNode dp = x.get("data_parallel");
            assertEquals(2, dp.get("world_size").asInt(), x.toString());
            assertEquals(2, dp.get("rank_peak_bytes").size());
            for (JsonNode p : dp.get("rank_peak_bytes")) assertTrue(p.asLong() > 100L << 20, "a JVM with libtorch peaks above 100 MiB: " + p);
            assertTrue(dp.get("all_reduce_bytes").asLong() > 1000, x.toString());
            assertEquals(adapter.equals("oft") ? 4 : 0, dp.get("layers_overlapped").asInt(),
                    "with recomputation each of the 4 layers launches its all-reduce during the backward, with plain autograd none: " + x);
            assertTrue(b.get(i).get("data_parallel") == null, "a single process has no data_parallel figures");
        }
        assertClose(eval(one), eval(two), LOSS_RTOL, "final eval loss (each rank evaluates half the samples)");
        double rel = relativeDifference(two.resolve("adapter/adapter_model.safetensors"), one.resolve("adapter/adapter_model.safetensors"));
        System.out.printf("%s: 2 x %d vs 1 x %d rows, %d steps: adapters differ by %.2e (relative L2)%n", adapter, B, 2 * B, STEPS, rel);
        assertTrue(rel < ADAPTER_RTOL, "adapters differ by " + rel);

        // every rank logged the same adapter checksum at every checkpoint; rank 0 alone wrote the files
        for (int step : new int[] {2, 4, 5}) {
            String c0 = checksum(two.resolve("logs/rank-0.log"), step), c1 = checksum(two.resolve("logs/rank-1.log"), step);
            assertEquals(c0, c1, "adapter checksums at step " + step);
        }
        assertEquals(List.of("step-000002", "step-000004", "step-000005"), names(two.resolve("checkpoints")));
        assertEquals(2, Checkpointer.state(two.resolve("checkpoints/step-000005")).worldSize());
        assertEquals(1, Checkpointer.state(one.resolve("checkpoints/step-000005")).worldSize());
        assertTrue(Files.isRegularFile(two.resolve("adapter/adapter_config.json")));
    }

    /**
     * kill -9 of rank 1 after step 3 (rank 0 then waits in step 4's first collective): rank 0 stops at once, naming rank 1
     * and the last good checkpoint (step 2); resuming with 2 processes reproduces the straight run bit for bit.
     * The workers are started directly with the torchrun environment, as an external launcher (srun) would, so that
     * the survivor's own message is seen ({@code Launcher} would stop it first).
     */
    @Test
    void aKilledWorkerStopsTheOtherAndResumeContinuesExactly() throws Exception {
        Path straight = twoProcesses("oft");
        Path out = tmp.resolve("killed"), marker = tmp.resolve("paused-rank-1");
        Files.createDirectories(out.resolve("logs"));
        LaunchPlan plan = LaunchPlan.standalone(2).withFreePortIfUnset();
        List<Process> ps = new ArrayList<>();
        try {
            for (int r = 0; r < 2; r++) {
                List<String> args = settings("oft", out, B);
                args.add(0, "pause-after=3@1@" + marker);
                ProcessBuilder pb = ChildJvm.processBuilder(FinetuneWorker.class.getName(), concat(WORKER_JVM, "-XX:ActiveProcessorCount=1"), args);
                pb.environment().putAll(plan.worker(r).toEnvironment());
                pb.redirectOutput(out.resolve("logs/rank-" + r + ".log").toFile());
                ps.add(pb.start());
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!Files.exists(marker)) {
                assertTrue(ps.get(0).isAlive() && ps.get(1).isAlive(), "a worker ended early: " + log(out, 0) + log(out, 1));
                assertTrue(System.nanoTime() < deadline, "rank 1 did not reach step 3 within 120 s: " + log(out, 1));
                Thread.sleep(50);
            }
            long t0 = System.nanoTime();
            ps.get(1).destroyForcibly();  // SIGKILL
            assertTrue(ps.get(0).waitFor(30, TimeUnit.SECONDS), "rank 0 did not stop within 30 s of its peer's death");
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertEquals(1, ps.get(0).exitValue());
            String survivor = log(out, 0);
            Matcher m = Pattern.compile("error: training stopped: .*").matcher(survivor);
            assertTrue(m.find(), survivor);
            String msg = m.group();
            assertTrue(msg.contains("rank 1 is lost") && msg.contains("The last good checkpoint is " + out.resolve("checkpoints/step-000002"))
                    && msg.contains("--resume " + out), msg);
            System.out.printf("kill -9 of rank 1: rank 0 stopped %.2f s later: %s%n", seconds, msg);
        } finally {
            for (Process p : ps) p.destroyForcibly();
        }
        // only the complete checkpoint of step 2; nothing half-written under a checkpoint's name
        assertEquals(List.of("step-000002"), names(out.resolve("checkpoints")));
        assertTrue(Files.isRegularFile(out.resolve("checkpoints/step-000002/" + Checkpointer.STATE_FILE)));

        List<String> resume = settings("oft", out, B);
        resume.add("resume=" + out);
        launch(resume, out);
        assertEquals(losses(straight), losses(out), "losses of steps 1..5, resumed after step 2");
        assertSameTensors(straight.resolve("adapter/adapter_model.safetensors"), out.resolve("adapter/adapter_model.safetensors"));
        assertSameTensors(straight.resolve("checkpoints/step-000004/adapter/adapter_model.safetensors"),
                out.resolve("checkpoints/step-000004/adapter/adapter_model.safetensors"));
    }

    /** A checkpoint of 2 processes x batch 2 resumes in 1 process with batch 4 (the same global batch), not with batch 2. */
    @Test
    void anotherNumberOfProcessesContinuesOnlyWithTheSameGlobalBatch() throws IOException {
        Path two = twoProcesses("oft"), one = oneProcess("oft");
        Path out = tmp.resolve("one-from-two");
        copy(two.resolve("checkpoints/step-000002"), out.resolve("checkpoints/step-000002"));
        List<String> sameGlobal = settings("oft", out, 2 * B);
        sameGlobal.add("resume=" + out);
        List<String> smaller = settings("oft", out, B);
        smaller.add("resume=" + out);
        ConfigException e = assertThrows(ConfigException.class, () -> Finetune.run(TrainConfig.defaults().with(smaller.toArray(String[]::new))));
        assertTrue(e.getMessage().contains("2 process(es) x batch-size 2 = 4 rows") && e.getMessage().contains("1 x 2 = 2")
                && e.getMessage().contains("use batch-size=4 with 1 process(es)"), e.getMessage());

        Finetune.run(TrainConfig.defaults().with(sameGlobal.toArray(String[]::new)));
        List<Double> a = losses(out), b = losses(one);
        assertEquals(STEPS - 2, a.size(), "steps 3..5 (the copied checkpoint brought no metrics)");
        for (int i = 0; i < a.size(); i++) assertClose(b.get(i + 2), a.get(i), LOSS_RTOL, "loss of step " + (i + 3));
        double rel = relativeDifference(out.resolve("adapter/adapter_model.safetensors"), one.resolve("adapter/adapter_model.safetensors"));
        assertTrue(rel < ADAPTER_RTOL, "adapters differ by " + rel);
    }

    /** Ranks that read different model files (the same path on two machines, here two working directories) stop before training. */
    @Test
    void differentModelFilesOnTheRanksAreAClearErrorBeforeTraining() throws Exception {
        LaunchPlan plan = LaunchPlan.standalone(2).withFreePortIfUnset();
        List<Process> ps = new ArrayList<>();
        Path[] dirs = {tmp.resolve("machine-a"), tmp.resolve("machine-b")};
        for (int r = 0; r < 2; r++) {
            copy(testData().resolve("tiny-llama"), dirs[r].resolve("model"));
            Files.copy(testData().resolve("data/shift-train.jsonl"), dirs[r].resolve("train.jsonl"));
        }
        try (RandomAccessFile f = new RandomAccessFile(dirs[1].resolve("model/model.safetensors").toFile(), "rw")) {
            f.seek(f.length() - 3);  // a weight in the file's last MiB: loadable, but other weights
            int v = f.read();
            f.seek(f.length() - 3);
            f.write(v ^ 0x01);
        }
        try {
            for (int r = 0; r < 2; r++) {
                List<String> args = new ArrayList<>(List.of("model=model", "data=train.jsonl", "max-samples=40", "out=out", "steps=2", "batch-size=2",
                        "seq-len=64", "threads=1", "progress=false", "dist-timeout=60"));
                ProcessBuilder pb = ChildJvm.processBuilder(FinetuneWorker.class.getName(), concat(WORKER_JVM, "-XX:ActiveProcessorCount=1"), args);
                pb.directory(dirs[r].toFile());
                pb.environment().putAll(plan.worker(r).toEnvironment());
                pb.redirectOutput(dirs[r].resolve("rank.log").toFile());
                ps.add(pb.start());
            }
            for (int r = 0; r < 2; r++) {
                assertTrue(ps.get(r).waitFor(90, TimeUnit.SECONDS), "rank " + r + " still runs");
                assertEquals(1, ps.get(r).exitValue());
                String log = Files.readString(dirs[r].resolve("rank.log"));
                assertTrue(log.contains("error: the ranks disagree on the model files in model: rank 1 differs from rank 0"), log);
                assertFalse(Files.exists(dirs[r].resolve("out/metrics.jsonl")), "rank " + r + " trained");
            }
        } finally {
            for (Process p : ps) p.destroyForcibly();
        }
    }

    @Test
    void ranksCompareEveryOptionButThreadsAndProgress() {
        TrainConfig c = TrainConfig.defaults().with(settings("oft", tmp.resolve("x"), B).toArray(String[]::new));
        String base = DataParallelRun.comparableConfig(c);
        assertEquals(base, DataParallelRun.comparableConfig(c.with("threads=7", "progress=true")));
        assertNotEquals(base, DataParallelRun.comparableConfig(c.with("lr=1e-3")));
        assertNotEquals(base, DataParallelRun.comparableConfig(c.with("dist-timeout=30")));
    }

    // ---- helpers ----

    static List<JsonNode> train(Path run) {
        return MetricsLog.read(run.resolve(MetricsLog.FILE)).stream().filter(n -> n.get("kind").asText().equals("train")).toList();
    }

    static List<Double> losses(Path run) {
        return train(run).stream().map(n -> n.get("loss").asDouble()).toList();
    }

    static double eval(Path run) {
        List<JsonNode> e = MetricsLog.read(run.resolve(MetricsLog.FILE)).stream().filter(n -> n.get("kind").asText().equals("eval")).toList();
        return e.get(e.size() - 1).get("eval_loss").asDouble();
    }

    static String checksum(Path log, int step) throws IOException {
        Matcher m = Pattern.compile("adapter checksum at step " + step + ": ([0-9a-f]{64})").matcher(Files.readString(log));
        assertTrue(m.find(), log + " has no checksum for step " + step);
        return m.group(1);
    }

    static void assertClose(double want, double got, double rtol, String what) {
        assertTrue(Math.abs(want - got) <= rtol * Math.abs(want), what + ": " + got + " vs " + want);
    }

    /** ||a - b|| / ||b|| over all tensors of two adapter files with the same names and shapes. */
    static double relativeDifference(Path a, Path b) {
        double diff = 0, norm = 0;
        try (PointerScope scope = new PointerScope(); SafetensorsFile fa = SafetensorsFile.open(a); SafetensorsFile fb = SafetensorsFile.open(b)) {
            assertEquals(fb.names(), fa.names());
            for (String n : fb.names()) {
                float[] x = Tensors.toFloats(fa.load(n)), y = Tensors.toFloats(fb.load(n));
                for (int i = 0; i < y.length; i++) {
                    diff += (double) (x[i] - y[i]) * (x[i] - y[i]);
                    norm += (double) y[i] * y[i];
                }
            }
        }
        return Math.sqrt(diff / norm);
    }

    static void assertSameTensors(Path a, Path b) {
        try (PointerScope scope = new PointerScope(); SafetensorsFile fa = SafetensorsFile.open(a); SafetensorsFile fb = SafetensorsFile.open(b)) {
            assertEquals(fa.names(), fb.names());
            for (String n : fa.names()) assertArrayEquals(Tensors.toFloats(fa.load(n)), Tensors.toFloats(fb.load(n)), 0f, n);
        }
    }

    static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
    }

    static String log(Path out, int r) throws IOException {
        Path p = out.resolve("logs/rank-" + r + ".log");
        return Files.exists(p) ? "\n--- rank " + r + ":\n" + Files.readString(p) : "";
    }

    static List<String> concat(List<String> a, String b) {
        List<String> out = new ArrayList<>(a);
        out.add(b);
        return out;
    }
}
