package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.qoft4j.core.HostReads;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.quant.QuantSpec;

/**
 * An optimizer step reads the device once in the default configuration: loss, gradient norm and (every
 * {@code log-every} steps) the OFT orthogonality error together, counted through {@link HostReads}, the one place
 * that turns tensors into Java numbers. Counted between consecutive step listeners, with evaluation and checkpoints
 * off; gradient accumulation and recomputation (lean and with kept graphs) included.
 */
class HostReadsPerStepTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}, grad-accum {1}, memory-budget {2}")
    @CsvSource({"oft, 1, auto", "oft, 2, lean", "lora, 1, auto", "oft, 1, 1GiB"})
    void oneReadPerStep(String adapter, int accum, String budget) throws IOException {
        Path data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), TinyLlama.countUp(16, 30, 6));
        TrainConfig c = TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, tmp.resolve("run")), "steps=7", "eval-fraction=0",
                "oft-block-size=16", "seq-len=32", "batch-size=2", "grad-accum=" + accum, "adapter=" + adapter, "log-every=3",
                "memory-budget=" + budget, "save-every=0", "eval-every=0");
        List<Long> readsBefore = new ArrayList<>();
        List<StepMetrics> steps = new ArrayList<>();
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5); Finetune job = Finetune.open(c, m, null)) {
            job.trainer().addListener(new TrainingListener() {
                @Override
                public void onStart(int totalSteps, int firstStep) {
                    readsBefore.add(HostReads.count());
                }

                @Override
                public void onStep(StepMetrics s) {
                    steps.add(s);
                    readsBefore.add(HostReads.count());
                }
            });
            job.train();
        }
        assertEquals(7, steps.size());
        for (int i = 0; i < steps.size(); i++) {
            int step = i + 1;
            assertEquals(1, readsBefore.get(i + 1) - readsBefore.get(i), "host reads in step " + step);
            boolean logged = adapter.equals("oft") && (step % 3 == 0 || step == 7);
            if (logged) assertNotNull(steps.get(i).maxOrthogonalityError(), "step " + step + " logs the OFT diagnostics");
            else assertNull(steps.get(i).maxOrthogonalityError(), "step " + step + " does not");
        }
    }
}
