package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.trainer.eval.Evaluator;
import org.qoft4j.model.LlamaModel;

/**
 * 30 steps on the "count up" task (see {@link TinyLlama#countUp}) lower the held-out loss of a frozen NF4 model by a
 * wide margin, for QOFT and for QLoRA. Measured with this test's settings (2026-11-26, CPU, fp32): the base model's
 * eval loss is 4.77 nats/token (above ln 96 = 4.56: it knows nothing of the task); after 30 steps QOFT reaches 0.34
 * (a drop of 4.44) and QLoRA 0.25 (a drop of 4.52). The required drop, 2.0 nats, is about half the smaller one.
 */
class LearningTest {
    static final double REQUIRED_DROP = 2.0;

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}")
    @CsvSource({"oft, 0.01", "lora, 0.01"})
    void thirtyStepsLowerTheEvalLoss(String adapter, double lr) throws IOException {
        Path data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), TinyLlama.countUp(120, 24, 1));
        Path eval = TinyLlama.writeJsonl(tmp.resolve("eval.jsonl"), TinyLlama.countUp(16, 24, 2));
        TrainConfig c = TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, tmp.resolve("run")), "adapter=" + adapter,
                "eval-data=" + eval, "steps=30", "batch-size=2", "seq-len=48", "lr=" + lr, "warmup=3", "oft-block-size=16", "lora-r=8", "lora-alpha=16");
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5); Finetune job = Finetune.open(c, m, null)) {
            Evaluator.Result before = job.evaluate(job.evalSamples());
            TrainSummary s = job.train();
            Evaluator.Result after = job.evaluate(job.evalSamples());
            System.out.printf("%s: eval loss %.4f -> %.4f (summary %.4f), final train loss %.4f%n", adapter, before.loss(), after.loss(),
                    s.evalLoss(), s.finalLoss());
            assertEquals(after.loss(), s.evalLoss(), 1e-9, "the trainer's final eval is the model's eval");
            assertTrue(before.loss() - after.loss() >= REQUIRED_DROP,
                    adapter + ": eval loss " + before.loss() + " -> " + after.loss() + ", a drop below " + REQUIRED_DROP);
        }
    }
}
