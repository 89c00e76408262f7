package org.qoft4j.examples;

import java.nio.file.Path;
import java.util.List;
import org.qoft4j.core.CpuThreads;
import org.qoft4j.gguf.GgufExport;
import org.qoft4j.gguf.GgufFile;
import org.qoft4j.gguf.GgufFileType;
import org.qoft4j.gguf.OllamaModelfile;
import org.qoft4j.data.TestData;
import org.qoft4j.trainer.Finetune;
import org.qoft4j.trainer.TrainConfig;
import org.qoft4j.trainer.TrainConfigIO;
import org.qoft4j.trainer.TrainSummary;

/**
 * Finetune, then take the model out as GGUF: the file llama.cpp, Ollama and LM Studio run.
 *
 * <p>We train a short QOFT run on the test data (or take an adapter directory you name), then export the test-data
 * model with the adapter folded in — into its original float32 weights, as {@code merge} does — as one GGUF file:
 * llama.cpp's tensor names and layouts, the byte-level tokenizer with its chat template, each matrix in the type asked
 * for ({@code q8_0} by default; {@code q4_k_m} shows llama.cpp's fallbacks, since this tiny model's rows are narrower
 * than a k-quant block). It prints the size, the tensors by type and the commands that run the file, writes an Ollama
 * Modelfile beside it, and reads the file back to show what llama.cpp will see.
 *
 * <p>Run: {@code examples/run ExportToGguf [ADAPTER_DIR|STEPS] [OUT.gguf] [TYPE]} (defaults: train 40 steps;
 * {@code runs/gguf-TIMESTAMP/demo.gguf}; q8_0). The command line does the same with
 * {@code ./qoft4j export-gguf --model DIR --adapter ADAPTER --out FILE --type TYPE}.
 */
public final class ExportToGguf {
    public static void main(String[] args) {
        Path modelDir = TestData.model();
        String first = args.length > 0 ? args[0] : "40";
        Path out = Path.of(args.length > 1 ? args[1] : "runs/gguf-" + System.currentTimeMillis() + "/demo.gguf");
        GgufFileType type = GgufFileType.parse(args.length > 2 ? args[2] : "q8_0");
        CpuThreads.use(Runtime.getRuntime().availableProcessors());

        // 1. An adapter: the one named, or a short QOFT run on NF4 (settings as key=value overrides, like the command line's).
        Path adapterDir;
        if (first.matches("\\d+")) {
            TrainConfig c = TrainConfigIO.resolve(TrainConfig.defaults(), List.of(TrainConfigIO.fromOverrides(List.of("model=" + modelDir,
                    "data=" + TestData.shiftTrain(), "eval-fraction=0", "out=" + out.toAbsolutePath().getParent().resolve("training"),
                    "adapter=oft", "quant=nf4", "steps=" + first, "batch-size=16", "seq-len=128", "lr=4e-3", "warmup=5", "progress=false"))));
            TrainSummary s = Finetune.run(c);
            System.out.println(s.format());
            adapterDir = c.outDir().resolve("adapter");
        } else {
            adapterDir = Path.of(first);
        }

        // 2. Export: adapter merged into the original weights, tensors converted one at a time, the file written atomically.
        GgufExport.Report r = GgufExport.run(GgufExport.Options.of(modelDir, out, type).withAdapter(adapterDir), System.out::println);
        OllamaModelfile.Result modelfile = OllamaModelfile.write(r, modelDir);
        if (modelfile.note() != null) System.out.println("note: " + modelfile.note());
        System.out.print(GgufExport.summary(r, modelfile.path().toString()));

        // 3. Read it back: what llama.cpp reads first.
        GgufFile g = GgufFile.read(out);
        for (String k : List.of("general.architecture", "general.file_type", "llama.block_count", "llama.attention.head_count_kv", "tokenizer.ggml.model",
                "tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"))
            System.out.println("  " + k + " = " + g.get(k).display(4));
        System.out.println("  tokenizer.ggml.tokens = " + g.get("tokenizer.ggml.tokens").display(5));
        System.out.println("Ollama Modelfile (" + modelfile.path() + "):\n" + modelfile.text());
    }
}
