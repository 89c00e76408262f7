package org.qoft4j.cli;

import org.qoft4j.core.CpuThreads;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.bytedeco.javacpp.PointerScope;
import org.qoft4j.model.AdapterSet;
import org.qoft4j.quant.BaseQuant;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.model.MergedModel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code qoft4j merge}: folds a PEFT adapter into its base model and writes a float32 Hugging Face directory that
 * needs no adapter. By default the adapter is merged into the original full-precision weights; {@code --quant nf4}
 * (etc.) merges into the dequantized 4-bit weights the adapter was trained on, which reproduces the adapter-on
 * 4-bit model's outputs exactly.
 */
@Command(name = "merge", mixinStandardHelpOptions = true,
        description = {"Merge a PEFT adapter (OFT or LoRA) into its base model: writes a float32 Hugging Face model directory.",
                "OFT: W' = W R^T blockwise; LoRA: W' = W + (alpha/r) B A; computed in fp32."})
public final class MergeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "the base model's Hugging Face directory") Path model;
    @Option(names = "--adapter", required = true, paramLabel = "DIR", description = "adapter directory (adapter_config.json + adapter_model.safetensors)")
    Path adapter;
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "directory to create (must not exist or be empty)") Path out;
    @Option(names = "--quant", defaultValue = "none", paramLabel = "none|nf4|fp4|int4", converter = ModelOptions.QuantConverter.class,
            description = "base to merge into: none = the original weights (default), nf4/fp4/int4 = the dequantized 4-bit weights")
    BaseQuant quant;

    @Override
    public Integer call() {
        CpuThreads.use(Runtime.getRuntime().availableProcessors());
        LoadOptions o = LoadOptions.cpu().withQuant(quant.spec());
        try (PointerScope scope = new PointerScope(); LlamaModel m = ModelLoader.load(model, o); AdapterSet a = AdapterSet.open(m, adapter)) {
            MergedModel.write(model, m, a.layers(), out);
            spec.commandLine().getOut().printf("merged %d %s adapter layers into %s (%s base) -> %s%n", a.layers().size(), a.config().peftType(),
                    model, quant, out);
            spec.commandLine().getOut().flush();
        }
        return 0;
    }
}
