package org.qoft4j.examples;

import org.qoft4j.core.CpuThreads;
import org.qoft4j.model.AdapterSet;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.data.TestData;
import org.qoft4j.data.tokenizer.TextTokenizer;
import org.qoft4j.trainer.Finetune;
import org.qoft4j.trainer.TrainConfig;
import org.qoft4j.trainer.TrainConfigIO;
import org.qoft4j.trainer.TrainSummary;

/**
 * Quickstart: QOFT from Java in four cells: configure, train, save, generate.
 *
 * <p>The bundled test-data model ({@code test-data/tiny-llama}, a 4-layer byte-level Llama) knows one skill,
 * {@code "copy abc" -> "abc"}. We teach it a new one, {@code "shift abc" -> "bcd"} (every letter to the next), by
 * training OFTv2 adapters (block size 32, 5 Cayley–Neumann terms) on its weights quantized to NF4: QOFT. The adapter
 * is written in PEFT's format, then loaded onto a freshly loaded 4-bit base to answer.
 *
 * <p>Run: {@code examples/run Quickstart [STEPS] [OUT]} (defaults: 60 steps, about a minute on 2 cores;
 * {@code runs/quickstart-TIMESTAMP}).
 */
public final class Quickstart {
    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        Path out = Path.of(args.length > 1 ? args[1] : "runs/quickstart-" + System.currentTimeMillis());
        CpuThreads.use(Runtime.getRuntime().availableProcessors());

        // 1. Configure. The keys are those of `./qoft4j finetune` (flags, YAML files, key=value overrides).
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("model", TestData.model().toString());
        settings.put("data", TestData.shiftTrain().toString()); // chat JSONL: {"messages": [user "shift abc", assistant "bcd"]}
        settings.put("eval-fraction", 0);
        settings.put("out", out.toString());
        settings.put("adapter", "oft");  // OFTv2; "lora" gives QLoRA
        settings.put("quant", "nf4");    // the frozen base in 4 bits
        settings.put("steps", steps);
        settings.put("batch-size", 16);
        settings.put("seq-len", 128);
        settings.put("lr", 4e-3);
        settings.put("warmup", Math.min(5, steps - 1));
        settings.put("progress", false);
        TrainConfig config = TrainConfigIO.resolve(TrainConfig.defaults(), List.of(TrainConfigIO.fromValues(settings, "Quickstart")));

        // 2. Train. Finetune.open loads and quantizes the model and wraps every linear layer in an OFT adapter.
        try (Finetune job = Finetune.open(config)) {
            System.out.println("before training: shift hello -> " + Chat.ask(job.model(), job.tokenizer(), "shift hello"));
            TrainSummary summary = job.train();
            System.out.println(summary.format());
            System.out.println("after training:  shift hello -> " + Chat.ask(job.model(), job.tokenizer(), "shift hello"));
        }

        // 3. The trainer saved the adapter in PEFT's format: adapter_config.json + adapter_model.safetensors.
        Path adapterDir = config.outDir().resolve("adapter");
        try (var files = java.nio.file.Files.list(adapterDir)) {
            System.out.println("adapter files: " + files.map(f -> f.getFileName().toString()).sorted().toList());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }

        // 4. Generate: a fresh 4-bit base with the saved adapter attached, as `./qoft4j generate --adapter` does.
        try (TextTokenizer tok = TextTokenizer.load(TestData.model());
             LlamaModel base = ModelLoader.load(TestData.model(), LoadOptions.cpu().withQuant(QuantSpec.nf4()));
             AdapterSet adapter = AdapterSet.open(base, adapterDir)) { // attached in eval mode; closing takes it off again
            System.out.println("reloaded " + adapter.layers().size() + " " + adapter.config().peftType() + " adapter layers");
            for (String q : List.of("shift hello", "shift java", "copy java"))
                System.out.println("  " + q + " -> " + Chat.ask(base, tok, q));
        }
    }
}
