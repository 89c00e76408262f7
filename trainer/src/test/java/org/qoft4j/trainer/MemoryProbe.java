package org.qoft4j.trainer;

import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.core.memory.ResidentMemory;
import org.qoft4j.model.LlamaModel;

/**
 * Trains the tiny model for {@code warmup + steps} steps in this (child) JVM and prints
 * {@code rss STEP RESIDENT_BYTES LIVE_NATIVE_OBJECTS SECONDS} after every step past the warm-up: {@link MemoryFlatTest} runs it with a fixed, pre-touched Java heap so that resident
 * memory changes come from native (libtorch) memory.
 * Arguments: adapter (oft|lora), recompute (true|false), warm-up steps, measured steps, work directory.
 */
public final class MemoryProbe {
    public static void main(String[] args) throws Exception {
        String adapter = args[0];
        boolean recompute = Boolean.parseBoolean(args[1]);
        int warmup = Integer.parseInt(args[2]), steps = Integer.parseInt(args[3]);
        Path dir = Files.createDirectories(Path.of(args[4]));
        Path data = TinyLlama.writeJsonl(dir.resolve("train.jsonl"), TinyLlama.countUp(64, 24, 1));
        TrainConfig c = TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, dir.resolve("run")), "adapter=" + adapter,
                "steps=" + (warmup + steps), "batch-size=1", "seq-len=64", "lr=1e-3", "eval-fraction=0", "oft-block-size=16", "lora-r=8",
                "lora-dropout=0.1", "recompute=" + recompute);
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5); Finetune job = Finetune.open(c, m, null)) {
            Trainer t = job.trainer();
            t.onStep(s -> {
                if (s.step() > warmup) System.out.println("rss " + s.step() + " " + ResidentMemory.currentBytes() + " " + Pointer.totalCount() + " " + s.stepSeconds());
            });
            t.train();
        }
    }
}
