package org.qoft4j.cli;

import org.qoft4j.core.CpuThreads;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.qoft4j.gguf.GgufExport;
import org.qoft4j.gguf.GgufFileType;
import org.qoft4j.gguf.OllamaModelfile;
import org.qoft4j.quant.BaseQuant;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code qoft4j export-gguf}: a Hugging Face model directory, with a PEFT adapter folded in, as one GGUF file for
 * llama.cpp, Ollama and LM Studio — no Python, no llama.cpp checkout. Prints the size, the tensors by type, any
 * shape fallbacks, and the commands that run the file; writes an Ollama Modelfile beside it.
 */
@Command(name = "export-gguf", mixinStandardHelpOptions = true,
        description = {"Export a model (and a PEFT adapter, folded in as merge does) as a GGUF file that llama.cpp, Ollama and LM Studio run.",
                "Types: f32, f16, bf16, q8_0 (as llama.cpp's converter), q4_0, q4_k_m (as llama-quantize: q4_K with q6_K where its recipe puts it)."})
public final class ExportGgufCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model directory (config.json, safetensors, tokenizer.json)")
    Path model;

    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT adapter directory (OFT or LoRA) to fold in first")
    Path adapter;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "the .gguf file to write")
    Path out;

    @Option(names = "--type", defaultValue = "f16", paramLabel = "f16|bf16|f32|q8_0|q4_0|q4_k_m", description = "tensor type (default: ${DEFAULT-VALUE})")
    String type;

    @Option(names = "--quant", defaultValue = "none", paramLabel = "none|nf4|fp4|int4",
            description = "what the adapter is merged into, for a full-precision model: none = its original weights (default); nf4/fp4/int4 = "
                    + "those weights quantized and dequantized as during training (reproduces the adapter-on-4-bit model). A 4-bit checkpoint is "
                    + "always merged into its dequantized weights.")
    String quant;

    @Option(names = "--name", paramLabel = "TEXT", description = "general.name (default: the model directory's name)")
    String name;

    @Option(names = "--overwrite", description = "replace an existing output file")
    boolean overwrite;

    @Option(names = "--no-modelfile", description = "do not write the Ollama Modelfile beside the GGUF file")
    boolean noModelfile;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads for libtorch (default: all cores)")
    Integer threads;

    @Override
    public Integer call() {
        CpuThreads.use(threads != null ? threads : Runtime.getRuntime().availableProcessors());
        PrintWriter o = spec.commandLine().getOut();
        GgufExport.Options opts = GgufExport.Options.of(model, out, GgufFileType.parse(type)).withAdapter(adapter)
                .withRequantize(BaseQuant.parse(quant).spec()).withOverwrite(overwrite).withName(name);
        GgufExport.Report r = GgufExport.run(opts, line -> {
            o.println(line);
            o.flush();
        });
        String modelfile = null;
        if (!noModelfile) {
            OllamaModelfile.Result mf = OllamaModelfile.write(r, model);
            modelfile = mf.path().toString();
            if (mf.note() != null) o.println("note: " + mf.note());
        }
        o.print(GgufExport.summary(r, modelfile));
        o.flush();
        return 0;
    }
}
