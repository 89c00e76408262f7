package org.qoft4j.cli;

import org.qoft4j.core.CpuThreads;
import java.nio.file.Files;
import java.nio.file.Path;
import org.qoft4j.core.ComputeDtype;
import org.qoft4j.core.DeviceSpec;
import org.qoft4j.data.tokenizer.TextTokenizer;
import org.qoft4j.model.AdapterSet;
import org.qoft4j.model.Llama2cLoader;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.quant.BaseQuant;
import picocli.CommandLine.Option;

/**
 * Options every command that loads a model shares (a picocli mixin). Values are parsed by the same types
 * {@code finetune}'s options use ({@link DeviceSpec}, {@link ComputeDtype}, {@link BaseQuant}).
 */
public final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Hugging Face model directory (config.json + safetensors), or a llama2.c .bin file")
    Path model;

    @Option(names = "--quant", defaultValue = "none", paramLabel = "nf4|fp4|int4|none", converter = QuantConverter.class,
            description = "quantize linear layers on load (default: ${DEFAULT-VALUE})")
    BaseQuant quant;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|cuda", converter = DeviceConverter.class, description = "default: ${DEFAULT-VALUE}")
    DeviceSpec device;

    @Option(names = "--dtype", defaultValue = "auto", paramLabel = "fp32|bf16", converter = DtypeConverter.class,
            description = "compute dtype (default: fp32 on CPU, bf16 on CUDA)")
    ComputeDtype dtype;

    @Option(names = "--tokenizer", paramLabel = "DIR", description = "directory with tokenizer.json (default: the model directory)")
    Path tokenizer;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads for libtorch (default: all cores)")
    Integer threads;

    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT adapter directory (OFT or LoRA) to apply to the model")
    Path adapter;

    static final class QuantConverter implements picocli.CommandLine.ITypeConverter<BaseQuant> {
        @Override
        public BaseQuant convert(String s) {
            return BaseQuant.parse(s);
        }
    }

    static final class DeviceConverter implements picocli.CommandLine.ITypeConverter<DeviceSpec> {
        @Override
        public DeviceSpec convert(String s) {
            return DeviceSpec.parse(s);
        }
    }

    static final class DtypeConverter implements picocli.CommandLine.ITypeConverter<ComputeDtype> {
        @Override
        public ComputeDtype convert(String s) {
            return ComputeDtype.parse(s);
        }
    }

    /** {@code --adapter} on {@code m} (in eval mode), or null without it; the caller closes it. */
    AdapterSet openAdapter(LlamaModel m) {
        return adapter == null ? null : AdapterSet.open(m, adapter);
    }

    LoadOptions loadOptions() {
        return new LoadOptions(device.requireAvailable().device(), dtype.on(device), quant.spec());
    }

    /** Sets libtorch's thread count and loads the model. */
    LlamaModel load() {
        CpuThreads.use(threads != null ? threads : Runtime.getRuntime().availableProcessors());
        LoadOptions o = loadOptions();
        if (Files.isRegularFile(model)) return Llama2cLoader.load(model, o);
        return ModelLoader.load(model, o);
    }

    /** The directory holding tokenizer.json: {@code --tokenizer}, else the model directory. */
    Path tokenizerDir() {
        if (tokenizer != null) return tokenizer;
        if (Files.isRegularFile(model))
            throw new IllegalArgumentException(model + " is a llama2.c file without a tokenizer; pass --tokenizer DIR");
        return model;
    }

    TextTokenizer loadTokenizer() {
        return TextTokenizer.load(tokenizerDir());
    }

    /** The tokenizer when one is given or the model directory has tokenizer.json, else null (pre-tokenized data needs none). */
    TextTokenizer loadTokenizerIfPresent() {
        if (tokenizer != null) return TextTokenizer.load(tokenizer);
        if (Files.isDirectory(model) && Files.exists(model.resolve("tokenizer.json"))) return TextTokenizer.load(model);
        return null;
    }

    /** The model directory (or the directory of a .bin file) for generation_config.json lookups. */
    Path modelDir() {
        return Files.isRegularFile(model) ? model.toAbsolutePath().getParent() : model;
    }
}
