package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.qoft4j.core.DiskFullException;
import org.qoft4j.core.FileWrites;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.quant.QuantSpec;

/**
 * A full disk at every stage of a checkpoint write (issue 14, case 1, and the fault-injection test): the disk "fills"
 * ({@link FileWrites#failAfter}) while the checkpoint of step 4 is written — before its first tensor, in the middle of
 * the adapter's tensors, in the middle of libtorch's optimizer archive (the path that used to kill the JVM), in the
 * last file just before the rename — or while a metrics line is written. Each time the run stops with a
 * {@link DiskFullException} naming what was being written, the checkpoint of step 2 is the newest and intact, nothing
 * half-written is left, and resuming from it finishes the run bit-identically to one never interrupted.
 */
class CheckpointFaultInjectionTest {
    static final int STEPS = 6;

    @TempDir
    static Path tmp;
    static Path data;

    @BeforeAll
    static void referenceRun() throws IOException {
        data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), TinyLlama.countUp(14, 24, 11));
        CheckpointResumeTest.run(config("run-ref"), 0);
    }

    /**
     * Where the disk fills, in bytes into the checkpoint of step 4, measured on the same run's checkpoint of step 2
     * (same files, same sizes: libtorch's archive names parameters by address, so only the same process matches).
     */
    static long budget(String stage, Path step2) {
        try {
            long adapterWeights = Files.size(step2.resolve("adapter/adapter_model.safetensors"));
            long adapterConfig = Files.size(step2.resolve("adapter/adapter_config.json"));
            long optimizer = Files.size(step2.resolve(AdapterOptimizer.FILE));
            long rng = Files.size(step2.resolve(RngState.FILE)), config = Files.size(step2.resolve(Checkpointer.CONFIG_FILE));
            return switch (stage) {
                case "before-tensors" -> 0;
                case "mid-adapter-tensor" -> adapterWeights / 2;
                case "mid-optimizer-archive" -> adapterWeights + adapterConfig + optimizer / 2;
                case "last-file-before-rename" -> adapterWeights + adapterConfig + optimizer + rng + config + 5; // trainer_state.json is longer
                default -> 17; // step 4's metrics line, after 17 bytes
            };
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Every run directory name has the same length, so config.yaml (which names it) has the same size in each. */
    static TrainConfig config(String out) {
        return TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, tmp.resolve(out)), "steps=" + STEPS, "save-every=2",
                "keep-checkpoints=5", "eval-fraction=0", "oft-block-size=16", "lora-dropout=0.1");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"before-tensors", "mid-adapter-tensor", "mid-optimizer-archive", "last-file-before-rename", "metrics-line"})
    void theDiskFillsAndThePreviousCheckpointResumesExactly(String stage) throws IOException {
        String name = "run-" + Integer.toHexString(stage.hashCode() & 0xfff | 0x100); // "run-" + 3 characters, as "run-ref"
        Path run = tmp.resolve(name);
        int armAt = stage.equals("metrics-line") ? 3 : 4; // listeners run after the step's metrics line, before its checkpoint
        List<FileWrites.SimulatedDiskFull> armed = new ArrayList<>();
        DiskFullException e;
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5); Finetune job = Finetune.open(config(name), m, null)) {
            job.trainer().onStep(s -> {
                if (s.step() == armAt) armed.add(FileWrites.failAfter(budget(stage, run.resolve("checkpoints/step-000002"))));
            });
            e = assertThrows(DiskFullException.class, job::train);
        } finally {
            armed.forEach(FileWrites.SimulatedDiskFull::close);
        }
        Path checkpoints = run.resolve("checkpoints");
        String expectedFile = switch (stage) {
            case "before-tensors", "mid-adapter-tensor" -> "(adapter)";
            case "mid-optimizer-archive" -> "(" + AdapterOptimizer.FILE + ")";
            case "last-file-before-rename" -> "(" + Checkpointer.STATE_FILE + ")";
            default -> "";
        };
        if (stage.equals("metrics-line")) {
            assertTrue(e.getMessage().startsWith("no space left on device writing " + run.resolve(MetricsLog.FILE)), e.getMessage());
        } else {
            assertTrue(e.getMessage().startsWith("no space left on device writing checkpoint " + checkpoints.resolve("step-000004") + " " + expectedFile),
                    e.getMessage());
            assertTrue(e.getMessage().contains("the newest checkpoint, " + checkpoints.resolve("step-000002") + ", is intact")
                    && e.getMessage().contains("--resume " + run), e.getMessage());
        }
        assertEquals(List.of(checkpoints.resolve("step-000002")), Checkpointer.list(checkpoints));
        try (Stream<Path> entries = Files.list(checkpoints)) {
            assertEquals(List.of("step-000002"), entries.map(p -> p.getFileName().toString()).toList(), "nothing half-written is left");
        }

        List<String> notes = new ArrayList<>();
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5);
             Finetune job = Finetune.open(TinyLlama.with(config(name), "resume=" + run), m, null)) {
            job.trainer().addListener(new TrainingListener() {
                @Override
                public void onNote(String message) {
                    notes.add(message);
                }
            });
            assertEquals(STEPS, job.train().steps());
        }
        assertTrue(notes.stream().anyMatch(n -> n.contains("truncated to the checkpoint's step 2")), notes.toString());
        if (stage.equals("metrics-line")) assertTrue(notes.stream().anyMatch(n -> n.contains("1 unreadable line(s)")), notes.toString());
        Path ref = tmp.resolve("run-ref");
        assertEquals(CheckpointResumeTest.trainLosses(ref), CheckpointResumeTest.trainLosses(run));
        CheckpointResumeTest.assertSameTensors(ref.resolve("adapter/adapter_model.safetensors"), run.resolve("adapter/adapter_model.safetensors"));
        CheckpointResumeTest.assertSameTensors(ref.resolve("checkpoints/step-000006/adapter/adapter_model.safetensors"),
                run.resolve("checkpoints/step-000006/adapter/adapter_model.safetensors"));
    }
}
