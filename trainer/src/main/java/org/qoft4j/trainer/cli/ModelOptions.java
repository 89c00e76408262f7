package org.qoft4j.trainer.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.oft.AdapterLayer;
import org.qoft4j.oft.peft.PeftAdapter;
import org.qoft4j.oft.peft.PeftAdapterIO;
import org.qoft4j.trainer.model.Llama2cLoader;
import org.qoft4j.trainer.model.LlamaModel;
import org.qoft4j.trainer.model.LoadOptions;
import org.qoft4j.trainer.model.ModelLoader;
import org.qoft4j.trainer.tokenizer.TextTokenizer;
import picocli.CommandLine.Option;

/** Options every command that loads a model shares (a picocli mixin). */
public final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Hugging Face model directory (config.json + safetensors), or a llama2.c .bin file")
    Path model;

    @Option(names = "--quant", defaultValue = "none", paramLabel = "nf4|fp4|int4|none",
            description = "quantize linear layers on load (default: ${DEFAULT-VALUE})")
    String quant;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|cuda", description = "default: ${DEFAULT-VALUE}")
    String device;

    @Option(names = "--dtype", paramLabel = "fp32|bf16", description = "compute dtype (default: fp32 on CPU, bf16 on CUDA)")
    String dtype;

    @Option(names = "--tokenizer", paramLabel = "DIR", description = "directory with tokenizer.json (default: the model directory)")
    Path tokenizer;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads for libtorch (default: all cores)")
    Integer threads;

    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT adapter directory (OFT or LoRA) to apply to the model")
    Path adapter;

    /** Attaches {@code --adapter} to {@code m}, or does nothing without it; the caller closes the returned adapter. */
    PeftAdapter attachAdapter(LlamaModel m) {
        if (adapter == null) return null;
        PeftAdapter a = PeftAdapterIO.read(adapter, m.baseLayers(), m.device());
        if (a.layers().isEmpty()) {
            close(a);
            throw new IllegalArgumentException(adapter + ": the adapter targets none of the model's linear layers");
        }
        a.layers().values().forEach(l -> l.train(false));
        m.attach(a.layers());
        return a;
    }

    static void close(PeftAdapter a) {
        if (a != null) a.layers().values().forEach(AdapterLayer::close);
    }

    LoadOptions loadOptions() {
        if (!device.matches("cpu|cuda(:\\d+)?")) throw new IllegalArgumentException("--device '" + device + "': expected cpu, cuda or cuda:N");
        Device d = new Device(device);
        if (d.is_cuda() && !torch.cuda_is_available())
            throw new IllegalArgumentException("--device " + device + ": CUDA is not available (build with -Pgpu on a machine with an NVIDIA GPU)");
        ScalarType dt = dtype != null ? LoadOptions.parseDtype(dtype) : d.is_cuda() ? ScalarType.BFloat16 : ScalarType.Float;
        return new LoadOptions(d, dt, LoadOptions.parseQuant(quant));
    }

    /** Sets libtorch's thread count and loads the model. */
    LlamaModel load() {
        torch.set_num_threads(threads != null ? threads : Runtime.getRuntime().availableProcessors());
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
