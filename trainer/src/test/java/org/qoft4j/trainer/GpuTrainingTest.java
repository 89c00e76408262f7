package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.qoft4j.model.AdapterSet;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.data.Batch;
import org.qoft4j.data.DataLoader;
import org.qoft4j.trainer.eval.Evaluator;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;

/** Training on CUDA: bf16 compute with fp32 adapters, recomputation, the allocator's peak in the metrics, resume with the CUDA generator. */
@Tag("gpu")
class GpuTrainingTest {
    static final Device CUDA = new Device("cuda");

    @TempDir
    Path tmp;

    @BeforeEach
    void needsCuda() {
        Assumptions.assumeTrue(torch.cuda_is_available(), "needs a CUDA device (mvn -Pgpu)");
    }

    static LlamaModel model(ScalarType dtype) {
        return TinyLlama.build(new LoadOptions(CUDA, dtype, QuantSpec.nf4()), 5);
    }

    TrainConfig config(String adapter, String out, String... more) throws IOException {
        Path data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), TinyLlama.countUp(120, 24, 1));
        Path eval = TinyLlama.writeJsonl(tmp.resolve("eval.jsonl"), TinyLlama.countUp(16, 24, 2));
        TrainConfig c = TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, tmp.resolve(out)), "adapter=" + adapter, "device=cuda",
                "dtype=bf16", "eval-data=" + eval, "steps=30", "batch-size=4", "oft-block-size=16", "lora-r=8", "lora-alpha=16");
        return more.length == 0 ? c : TinyLlama.with(c, more);
    }

    @Test
    void qoftTrainsInBf16WithFp32Adapters() throws IOException {
        try (PointerScope scope = new PointerScope(); LlamaModel m = model(ScalarType.BFloat16); Finetune job = Finetune.open(config("oft", "run"), m, null)) {
            for (Tensor p : job.adapters().parameters()) {
                assertTrue(p.device().is_cuda());
                assertEquals(ScalarType.Float, p.scalar_type().intern());
            }
            Evaluator.Result before = job.evaluate(job.evalSamples());
            TrainSummary s = job.train();
            assertTrue(before.loss() - s.evalLoss() >= 2.0, "eval loss " + before.loss() + " -> " + s.evalLoss());
            assertNotNull(s.cudaPeakBytes());
            assertTrue(s.cudaPeakBytes() > 0);
            JsonNode first = MetricsLog.read(tmp.resolve("run").resolve(MetricsLog.FILE)).get(0);
            assertTrue(first.path("cuda_peak_bytes").asLong() > 0, first.toString());
            System.out.println(s.format());
        }
    }

    @Test
    void recomputeMatchesAutogradOnCuda() {
        try (PointerScope scope = new PointerScope(); LlamaModel m = model(ScalarType.Float);
             AdapterSet a = AdapterSet.inject(m, OftConfig.defaults().withBlockSize(16).withInitWeights(false), 3)) {
            Batch batch = new DataLoader(TinyLlama.countUp(6, 20, 9), 48, 2, true, false, 0, 0).next();
            RngState rng = new RngState(m.device());
            new RecomputeStep(m, rng).run(batch, 1.0 / batch.scoredTokens());
            List<float[]> rec = RecomputeGradientTest.grads(a);
            new FullGraphStep(m).run(batch, 1.0 / batch.scoredTokens());
            List<float[]> full = RecomputeGradientTest.grads(a);
            double worst = 0, largest = 0;
            for (int i = 0; i < rec.size(); i++)
                for (int j = 0; j < rec.get(i).length; j++) {
                    worst = Math.max(worst, Math.abs(rec.get(i)[j] - full.get(i)[j]));
                    largest = Math.max(largest, Math.abs(full.get(i)[j]));
                }
            assertTrue(largest > 1e-3 && worst <= 1e-5 * Math.max(1, largest), "max diff " + worst + ", largest " + largest);
        }
    }

    @Test
    void resumeOnCudaReplaysTheCudaGenerator() throws IOException {
        TrainConfig straight = config("lora", "straight", "steps=6", "save-every=3", "lora-dropout=0.2", "eval-every=0");
        TrainConfig interrupted = TinyLlama.with(straight, "out=" + tmp.resolve("interrupted"));
        run(straight, 0);
        assertThrows(CheckpointResumeTest.Stop.class, () -> run(interrupted, 4));
        run(TinyLlama.with(interrupted, "resume=" + tmp.resolve("interrupted")), 0);
        List<Double> a = CheckpointResumeTest.trainLosses(tmp.resolve("straight")), b = CheckpointResumeTest.trainLosses(tmp.resolve("interrupted"));
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) assertEquals(a.get(i), b.get(i), 1e-5, "step " + (i + 1));
    }

    static void run(TrainConfig c, int stopAfter) {
        try (PointerScope scope = new PointerScope(); LlamaModel m = model(ScalarType.BFloat16); Finetune job = Finetune.open(c, m, null)) {
            Trainer t = job.trainer();
            if (stopAfter > 0) t.onStep(s -> {
                if (s.step() == stopAfter) throw new CheckpointResumeTest.Stop();
            });
            t.train();
        }
    }
}
