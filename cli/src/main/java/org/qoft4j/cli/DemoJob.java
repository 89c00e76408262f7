package org.qoft4j.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.qoft4j.data.TestData;
import org.qoft4j.trainer.TrainConfig;

/**
 * What {@code ./qoft4j finetune} does with no model named: finetunes the bundled test-data model (a tiny Llama
 * that can copy words) with QOFT on NF4 to learn a new skill (shift every letter to the next one), and measures
 * both skills before and after. Any flag still applies on top ({@code --adapter lora} gives the QLoRA run).
 * Paths are resolved against the project directory that {@code ./qoft4j} passes as {@code -Dqoft4j.home}.
 */
final class DemoJob {
    private DemoJob() {}

    static Path home() {
        return Path.of(System.getProperty("qoft4j.home", ".")).toAbsolutePath().normalize();
    }

    static Path testData(String rel) {
        return TestData.dir().resolve(rel);
    }

    /** Settings measured to reach ~100% on the new skill in about a minute on 2 cores (see docs/BENCHMARKS.md). */
    static Map<String, Object> settings() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("model", testData("tiny-llama").toString());
        s.put("data", testData("data/shift-train.jsonl").toString());
        s.put("eval-data", testData("data/shift-eval.jsonl").toString());
        s.put("out", "runs/finetune-demo");
        s.put("adapter", "oft");
        s.put("quant", "nf4");
        s.put("steps", 60);
        s.put("batch-size", 16);
        s.put("seq-len", 128);
        s.put("lr", 4e-3);
        s.put("warmup", 5);
        return s;
    }

    static Map<String, Path> skillEvals() {
        return TestData.skills();
    }

    static String banner(TrainConfig c) {
        return "qoft4j demo: finetuning the bundled test-data model (" + c.modelDir() + ")\n"
                + "  base skill: \"copy abc\" -> \"abc\"; new skill to learn: \"shift abc\" -> \"bcd\"\n"
                + "  " + c.adapter() + " adapters on a " + c.quant() + " base, " + c.steps() + " steps (name --model to train your own)\n";
    }

    static String nextSteps(TrainConfig c) {
        Path out = c.outDir().toAbsolutePath().normalize();
        return "adapter (PEFT files): " + out.resolve("adapter") + "\n"
                + "metrics: " + out.resolve("metrics.jsonl") + ", loss curve: " + out.resolve("loss.png") + "\n"
                + "try: ./qoft4j generate --model " + c.modelDir() + " --adapter " + out.resolve("adapter") + " --chat --prompt \"shift hello\"";
    }
}
