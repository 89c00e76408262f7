package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.qoft4j.model.AdapterSet;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.data.DataCursor;
import org.qoft4j.data.DataLoader;
import org.qoft4j.data.Sample;
import org.qoft4j.model.LlamaModel;

/** Gradient accumulation, runs measured in epochs, and checkpoint pruning. */
class TrainerLoopTest {
    @TempDir
    Path tmp;

    /** Two micro-batches of one row each give the gradient of one batch of both rows: the mean over all their scored tokens. */
    @Test
    void accumulationEqualsOneLargerBatch() {
        List<Sample> samples = List.of(TinyLlama.countUp(1, 12, 1).get(0), TinyLlama.countUp(1, 20, 2).get(0));
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5);
             AdapterSet a = AdapterSet.inject(m, OftConfig.defaults().withBlockSize(16).withInitWeights(false), 3)) {
            BackwardPass pass = new RecomputeStep(m, new RngState(m.device()));
            DataLoader ones = new DataLoader(samples, 32, 1, false, false, 0, 0), both = new DataLoader(samples, 32, 2, false, false, 0, 0);
            var first = ones.next();
            var second = ones.next();
            long tokens = first.scoredTokens() + second.scoredTokens();
            double nll = pass.run(first, 1.0 / tokens).nllSum().item_double() + pass.run(second, 1.0 / tokens).nllSum().item_double();
            List<float[]> accumulated = RecomputeGradientTest.grads(a);
            var batch = both.next();
            assertEquals(tokens, batch.scoredTokens());
            assertEquals(nll, pass.run(batch, 1.0 / tokens).nllSum().item_double(), 1e-4);
            List<float[]> whole = RecomputeGradientTest.grads(a);
            double worst = 0;
            for (int i = 0; i < whole.size(); i++)
                for (int j = 0; j < whole.get(i).length; j++) worst = Math.max(worst, Math.abs(whole.get(i)[j] - accumulated.get(i)[j]));
            assertTrue(worst <= 1e-6, "max |accumulated - one batch| = " + worst);
        }
    }

    /** {@code adapter=oft-v1} trains OFT v1 layers: the same parameters and outputs as OFTv2, so the same losses and updates. */
    @Test
    void oftV1TrainsLikeOftV2() throws IOException {
        Path data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), TinyLlama.countUp(8, 30, 6));
        TrainConfig base = TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, tmp.resolve("v2")), "steps=3", "eval-fraction=0",
                "oft-block-size=16", "seq-len=32");
        List<List<Double>> losses = new java.util.ArrayList<>();
        List<float[]> params = new java.util.ArrayList<>();
        for (String adapter : List.of("oft", "oft-v1")) {
            TrainConfig c = TinyLlama.with(base, "adapter=" + adapter, "out=" + tmp.resolve(adapter));
            try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5); Finetune job = Finetune.open(c, m, null)) {
                assertEquals(adapter.equals("oft-v1"), job.adapters().layers().values().iterator().next() instanceof org.qoft4j.adapters.OftV1Layer);
                List<Double> l = new java.util.ArrayList<>();
                Trainer t = job.trainer();
                t.onStep(s -> l.add(s.loss()));
                t.train();
                losses.add(l);
                params.add(org.qoft4j.core.Tensors.toFloats(job.adapters().parameters().get(0)));
            }
        }
        for (int i = 0; i < 3; i++) assertEquals(losses.get(0).get(i), losses.get(1).get(i), 1e-4, "loss at step " + (i + 1));
        double worst = 0, moved = 0;
        for (int j = 0; j < params.get(0).length; j++) {
            worst = Math.max(worst, Math.abs(params.get(0)[j] - params.get(1)[j]));
            moved = Math.max(moved, Math.abs(params.get(0)[j]));
        }
        assertTrue(moved > 1e-4, "the adapter trained");
        assertTrue(worst < 1e-4, "OFT v1 and v2 parameters after 3 steps differ by " + worst);
    }

    @Test
    void epochsSetTheRunLengthAndCheckpointsArePruned() throws IOException {
        List<Sample> samples = TinyLlama.countUp(10, 40, 4); // one sample per row of 48 tokens: 5 batches of 2 per epoch
        Path data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), samples);
        TrainConfig c = TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, tmp.resolve("run")), "epochs=2", "seq-len=48",
                "batch-size=2", "grad-accum=2", "eval-fraction=0", "save-every=1", "keep-checkpoints=2", "oft-block-size=16");
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5); Finetune job = Finetune.open(c, m, null)) {
            Trainer t = job.trainer();
            assertEquals(5, t.totalSteps(), "2 epochs of 5 batches, 2 per step");
            TrainSummary s = t.train();
            assertEquals(5, s.steps());
        }
        Path checkpoints = tmp.resolve("run/checkpoints");
        assertEquals(List.of(checkpoints.resolve("step-000004"), checkpoints.resolve("step-000005")), Checkpointer.list(checkpoints));
        try (Stream<Path> all = Files.list(checkpoints)) {
            assertEquals(2, all.count(), "no hidden leftovers from pruning or saving");
        }
        TrainerState end = Checkpointer.state(checkpoints.resolve("step-000005"));
        assertEquals(new DataCursor(1, 5), end.cursor(), "the run ends with the last batch of the second epoch");
    }
}
