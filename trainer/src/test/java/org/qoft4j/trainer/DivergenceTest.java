package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.quant.QuantSpec;

/**
 * Absurd learning rates (issue 14, case 3): the run must stop at the first step whose state is not good, and never
 * name a checkpoint holding such a state as "the last good one".
 */
class DivergenceTest {
    @TempDir
    Path tmp;
    Path data;

    @BeforeEach
    void writeData() throws IOException {
        data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), TinyLlama.countUp(16, 20, 7));
    }

    record Outcome(TrainingDivergedException error, List<StepMetrics> steps) {}

    Outcome train(String... settings) {
        TrainConfig c = TinyLlama.with(TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, tmp.resolve("run")), "steps=6",
                "save-every=1", "keep-checkpoints=10", "warmup=0", "eval-fraction=0", "oft-block-size=16", "lora-r=4"), settings);
        List<StepMetrics> steps = new ArrayList<>();
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5); Finetune job = Finetune.open(c, m, null)) {
            job.trainer().onStep(steps::add);
            return new Outcome(assertThrows(TrainingDivergedException.class, job::train), steps);
        }
    }

    /** OFT at lr 1e9: one update makes R^T R overflow. That step's state is never saved (before the fix it was, and named good). */
    @Test
    void oftRotationsThatOverflowStopTheRunAtOnce() {
        Outcome o = train("adapter=oft", "lr=1e9");
        assertEquals(1, o.error().step(), o.error().getMessage());
        assertTrue(o.steps().isEmpty(), "step 1's metrics are not reported as a good step");
        assertTrue(o.error().getMessage().contains("the OFT rotations are no longer finite") && o.error().getMessage().contains("no good checkpoint"),
                o.error().getMessage());
        assertEquals(List.of(), Checkpointer.list(tmp.resolve("run/checkpoints")));
        assertFalse(Files.exists(tmp.resolve("run/adapter")));
    }

    /**
     * LoRA at lr 1e9 without clipping: one update leaves finite parameters whose next forward pass is dead (loss
     * ln(vocab), gradient 0). The run stops there; the checkpoint of the step before held that dead state, so it is
     * renamed aside, and a resume can only pick an earlier, good one.
     */
    @Test
    void aDeadRunStopsAndItsCheckpointIsNotNamedGood() {
        Outcome o = train("adapter=lora", "lr=1e9", "max-grad-norm=1e30");
        int stop = o.error().step();
        String m = o.error().getMessage();
        assertTrue(m.contains("the run is dead") && m.contains("ln(vocab)") && m.contains("gradient norm is 0"), m);
        assertTrue(m.contains("renamed to step-" + String.format("%06d", stop - 1) + ".diverged"), m);
        Path run = tmp.resolve("run");
        assertTrue(Files.isDirectory(run.resolve("checkpoints/" + Checkpointer.name(stop - 1) + ".diverged")));
        List<Path> left = Checkpointer.list(run.resolve("checkpoints"));
        for (Path p : left) assertTrue(Checkpointer.state(p).step() < stop - 1, "only checkpoints before the dead state remain: " + left);
        if (left.isEmpty()) assertTrue(m.contains("no good checkpoint"), m);
        else assertTrue(m.contains("the last good checkpoint is " + left.get(left.size() - 1)), m);
        for (StepMetrics s : o.steps()) assertTrue(s.gradNorm() > 0, "every step reported as done had a gradient: " + s);
    }
}
