package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.qoft4j.model.AdapterSet;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.core.Tensors;
import org.qoft4j.core.safetensors.SafetensorsFile;
import org.qoft4j.model.LlamaModel;

/** Checkpoints are atomic and resuming continues exactly: same losses, same adapter tensors, mid-epoch included. */
class CheckpointResumeTest {
    @TempDir
    Path tmp;
    Path data;

    /** A run interrupted on purpose by a step listener. */
    static final class Stop extends RuntimeException {
        Stop() {
            super("stopped by the test");
        }
    }

    @BeforeEach
    void writeData() throws IOException {
        // 27 training samples of 9..20 tokens packed into rows of 64: 4 batches of up to 2 rows per epoch, so step 3 is mid-epoch
        List<org.qoft4j.data.Sample> samples = new ArrayList<>();
        for (int i = 0; i < 30; i++) samples.addAll(TinyLlama.countUp(1, 9 + (i * 7) % 12, 100 + i));
        data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), samples);
    }

    TrainConfig config(String adapter, String out, String... more) {
        TrainConfig c = TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, tmp.resolve(out)), "adapter=" + adapter,
                "steps=6", "save-every=3", "eval-fraction=0.1", "eval-every=2", "oft-block-size=16", "lora-r=4", "lora-dropout=0.2");
        return more.length == 0 ? c : TinyLlama.with(c, more);
    }

    /** Trains {@code c} on a fresh model (as a new process would); a listener may interrupt it. */
    static TrainSummary run(TrainConfig c, int stopAfterStep) {
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5); Finetune job = Finetune.open(c, m, null)) {
            Trainer t = job.trainer();
            if (stopAfterStep > 0) t.onStep(s -> {
                if (s.step() == stopAfterStep) throw new Stop();
            });
            return t.train();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"oft", "lora"})
    void resumeContinuesExactlyMidEpoch(String adapter) throws IOException {
        TrainConfig straight = config(adapter, "straight");
        TrainConfig interrupted = config(adapter, "interrupted");
        TrainSummary s = run(straight, 0);
        assertEquals(6, s.steps());
        assertThrows(Stop.class, () -> run(interrupted, 4)); // checkpoint at 3 exists; step 4 ran and is lost
        TrainerState saved = Checkpointer.state(Checkpointer.resolve(tmp.resolve("interrupted")));
        assertEquals(3, saved.step());
        assertTrue(saved.dataPosition() > 0 && saved.dataEpoch() == 0, "step 3 ends mid-epoch (cursor " + saved.cursor() + ")");
        run(TinyLlama.with(interrupted, "resume=" + tmp.resolve("interrupted")), 0);

        assertEquals(trainLosses(tmp.resolve("straight")), trainLosses(tmp.resolve("interrupted")));
        assertEquals(evalLosses(tmp.resolve("straight")), evalLosses(tmp.resolve("interrupted")));
        assertSameTensors(tmp.resolve("straight/adapter/adapter_model.safetensors"), tmp.resolve("interrupted/adapter/adapter_model.safetensors"));
        assertSameTensors(tmp.resolve("straight/checkpoints/step-000006/adapter/adapter_model.safetensors"),
                tmp.resolve("interrupted/checkpoints/step-000006/adapter/adapter_model.safetensors"));
    }

    @Test
    void resumeRefusesChangedSettings() {
        run(config("oft", "run"), 0);
        ConfigException e = assertThrows(ConfigException.class,
                () -> run(config("oft", "run", "resume=" + tmp.resolve("run"), "beta1=0.5", "seed=987654"), 0));
        assertTrue(e.getMessage().contains("beta1 (checkpoint: 0.9, now: 0.5)") && e.getMessage().contains("seed (checkpoint: ") && e.getMessage().contains("now: 987654)")
                && e.getMessage().contains("only lr, max-grad-norm, min-lr-ratio, warmup"), e.getMessage());
        // batch-size may change only together with the number of processes (the global batch stays): one process, refused
        ConfigException batch = assertThrows(ConfigException.class,
                () -> run(config("oft", "run", "resume=" + tmp.resolve("run"), "batch-size=3"), 0));
        assertTrue(batch.getMessage().contains("1 x 3 = 3") && batch.getMessage().contains("use batch-size=2 with 1 process(es)"), batch.getMessage());
    }

    @Test
    void aFreshRunRefusesAnOutputDirectoryWithCheckpoints() {
        run(config("oft", "run"), 0);
        ConfigException e = assertThrows(ConfigException.class, () -> run(config("oft", "run"), 0));
        assertTrue(e.getMessage().contains("already holds a run") && e.getMessage().contains("--resume"), e.getMessage());
    }

    /** A crash after any one file of a save (the last one: just before the rename) leaves the previous checkpoint, restorable exactly. */
    @ParameterizedTest(name = "crash after {0}")
    @ValueSource(strings = {Checkpointer.ADAPTER_DIR, AdapterOptimizer.FILE, RngState.FILE, Checkpointer.CONFIG_FILE, Checkpointer.STATE_FILE})
    void aSaveInterruptedBetweenFilesLeavesThePreviousCheckpoint(String crashAfter) throws IOException {
        TrainConfig c = config("oft", "run");
        Path dir = tmp.resolve("ckpts");
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5);
             AdapterSet a = AdapterSet.inject(m, c.adapterConfig(), 1); AdapterOptimizer opt = new AdapterOptimizer(a.parameters(), c)) {
            RngState rng = new RngState(m.device());
            Checkpointer ck = new Checkpointer(dir, 5);
            fill(a, 0.01f);
            Path first = ck.save(new TrainerState(1, 8, 0, 1, 100, 1.0), a, opt, rng, c);
            float[] savedValues = Tensors.toFloats(a.parameters().get(0));

            fill(a, 0.02f);
            List<String> written = new ArrayList<>();
            ck.afterEachFile(name -> {
                written.add(name);
                if (name.equals(crashAfter)) throw new IllegalStateException("simulated crash after " + name);
            });
            assertThrows(IllegalStateException.class, () -> ck.save(new TrainerState(2, 8, 0, 2, 200, 2.0), a, opt, rng, c));
            assertEquals(crashAfter, written.get(written.size() - 1));

            assertEquals(List.of(first), Checkpointer.list(dir));
            assertEquals(first, Checkpointer.resolve(dir));
            try (Stream<Path> entries = Files.list(dir)) {
                assertEquals(List.of("step-000001"), entries.map(p -> p.getFileName().toString()).toList(), "nothing half-written is left");
            }
            // a crash that gets no chance to clean up leaves a hidden temporary directory: never taken for a checkpoint
            Files.createDirectories(dir.resolve(".step-000003.tmp-123/adapter"));
            Files.writeString(dir.resolve(".step-000003.tmp-123/trainer_state.json"), "{\"step\": 3}");
            assertEquals(first, Checkpointer.resolve(dir));

            TrainerState restored = Checkpointer.restore(first, a, opt, rng);
            assertEquals(1, restored.step());
            assertArrayEquals(savedValues, Tensors.toFloats(a.parameters().get(0)));
        }
    }

    @Test
    void nanLossStopsWithAClearMessageAndKeepsTheLastGoodCheckpoint() {
        TrainConfig c = config("oft", "run", "save-every=2", "keep-checkpoints=5");
        TrainingDivergedException e;
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5); Finetune job = Finetune.open(c, m, null)) {
            Trainer t = job.trainer();
            t.onStep(s -> {
                if (s.step() == 3) fill(job.adapters(), Float.NaN); // poisons the adapter: step 4's loss is NaN
            });
            e = assertThrows(TrainingDivergedException.class, t::train);
        }
        assertEquals(4, e.step());
        Path last = tmp.resolve("run/checkpoints/step-000002");
        assertTrue(e.getMessage().contains("step 4") && e.getMessage().contains("NaN") && e.getMessage().contains(last.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("--resume " + last + " lr=0.001"), "advice that can be followed: " + e.getMessage());
        assertEquals(last, Checkpointer.resolve(tmp.resolve("run")), "no checkpoint after the divergence");
        assertFalse(Files.exists(tmp.resolve("run/adapter")), "no final adapter from a diverged run");
        try (SafetensorsFile f = SafetensorsFile.open(last.resolve("adapter/adapter_model.safetensors"))) {
            for (String name : f.names())
                try (PointerScope scope = new PointerScope()) {
                    for (float v : Tensors.toFloats(f.load(name))) assertTrue(Float.isFinite(v), name + " holds " + v);
                }
        }
        // and the run continues from it, following the advice
        TrainSummary s = run(TinyLlama.with(c, "resume=" + last, "lr=0.001"), 0);
        assertEquals(6, s.steps());
        assertTrue(Double.isFinite(s.finalLoss()));
    }

    static void fill(AdapterSet a, float v) {
        try (NoGradGuard g = new NoGradGuard()) {
            for (Tensor p : a.parameters()) p.fill_(new Scalar(v));
        }
    }

    static List<Double> trainLosses(Path run) {
        return losses(run, "train", "loss");
    }

    static List<Double> evalLosses(Path run) {
        return losses(run, "eval", "eval_loss");
    }

    private static List<Double> losses(Path run, String kind, String field) {
        List<Double> out = new ArrayList<>();
        for (JsonNode n : MetricsLog.read(run.resolve(MetricsLog.FILE)))
            if (kind.equals(n.path("kind").asText())) out.add(n.path(field).asDouble());
        assertFalse(out.isEmpty(), "no " + kind + " lines in " + run);
        return out;
    }

    static void assertSameTensors(Path a, Path b) {
        try (SafetensorsFile fa = SafetensorsFile.open(a); SafetensorsFile fb = SafetensorsFile.open(b)) {
            assertEquals(fa.names(), fb.names());
            for (String name : fa.names())
                try (PointerScope scope = new PointerScope()) {
                    assertArrayEquals(Tensors.toFloats(fa.load(name)), Tensors.toFloats(fb.load(name)), 0f, name);
                }
        }
    }
}
