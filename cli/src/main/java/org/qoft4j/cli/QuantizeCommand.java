package org.qoft4j.cli;

import org.qoft4j.core.CpuThreads;
import org.qoft4j.core.Human;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.hf.ModelQuantizer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./qoft4j quantize}: a Hugging Face model directory to a 4-bit one, one tensor at a time. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantize the linear weights of a Hugging Face model directory (safetensors; bf16/fp16/fp32; one file or shards) "
                + "to 4 bits: nf4/fp4 in the bitsandbytes layout (*-bnb-4bit), int4 in the GPTQ layout. Embeddings, norms and lm_head "
                + "stay as they are; tokenizer and other files are copied; config.json gets a quantization_config."})
public final class QuantizeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "IN_DIR", description = "Hugging Face model directory to read")
    Path model;

    @Option(names = "--out", required = true, paramLabel = "OUT_DIR", description = "directory to write (must be empty or absent unless --overwrite)")
    Path out;

    @Option(names = "--type", required = true, paramLabel = "nf4|fp4|int4", converter = QuantTypeConverter.class,
            description = "4-bit format: nf4, fp4 (bitsandbytes) or int4 (GPTQ packing, asymmetric round-to-nearest)")
    QuantType type;

    @Option(names = "--double-quant", description = "nf4/fp4: quantize the absmax statistics again (8-bit, blocks of 256)")
    boolean doubleQuant;

    @Option(names = "--blocksize", defaultValue = "64", description = "nf4/fp4 absmax block size, a power of two in 32..4096 (default: ${DEFAULT-VALUE})")
    int blocksize;

    @Option(names = "--group-size", defaultValue = "128", description = "int4 elements per scale/zero group along in_features (default: ${DEFAULT-VALUE})")
    int groupSize;

    @Option(names = "--skip", split = ",", paramLabel = "MODULE", description = "module paths kept in full precision (substring match, e.g. mlp.down_proj)")
    List<String> skip = List.of();

    @Option(names = "--overwrite", description = "replace a non-empty output directory")
    boolean overwrite;

    @Option(names = {"-v", "--verbose"}, description = "print one line per quantized tensor, with resident memory")
    boolean verbose;

    /** Parses the --type value with {@link QuantType#parse}, whose message lists the choices. */
    static final class QuantTypeConverter implements CommandLine.ITypeConverter<QuantType> {
        @Override
        public QuantType convert(String value) {
            try {
                return QuantType.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    @Override
    public Integer call() {
        CpuThreads.use(Runtime.getRuntime().availableProcessors());
        if (doubleQuant && type == QuantType.INT4) throw new CommandLine.ParameterException(spec.commandLine(), "--double-quant applies to nf4/fp4 only");
        QuantSpec q = new QuantSpec(type, blocksize, doubleQuant, groupSize);
        PrintWriter o = spec.commandLine().getOut();
        ModelQuantizer.Options opt = new ModelQuantizer.Options(q, skip, overwrite, verbose ? line -> {
            o.println("  " + line + " (rss " + Human.bytes(ProcessMemory.rssBytes()) + ", peak " + Human.bytes(ProcessMemory.peakRssBytes()) + ")");
            o.flush();
        } : null);
        ModelQuantizer.Summary s = ModelQuantizer.quantize(model, out, opt);
        String how = type == QuantType.INT4 ? "group size " + groupSize : "blocksize " + blocksize + (doubleQuant ? ", double quant" : "");
        o.printf(Locale.ROOT, "quantized %d tensors to %s (%s); copied %d tensors and %d files%n", s.tensorsQuantized(), type.lowerName(), how,
                s.tensorsCopied(), s.filesCopied().size());
        o.printf(Locale.ROOT, "  quantized weights: %,d params, %s -> %s, %.3f bits/weight%n", s.paramsQuantized(),
                Human.bytes(s.quantizedBytesBefore()), Human.bytes(s.quantizedBytesAfter()), s.bitsPerWeight());
        o.printf(Locale.ROOT, "  all tensors: %s -> %s (%.3fx)%n", Human.bytes(s.bytesBefore()), Human.bytes(s.bytesAfter()),
                s.bytesBefore() == 0 ? 0.0 : (double) s.bytesAfter() / s.bytesBefore());
        o.printf(Locale.ROOT, "  largest tensor: %s; peak RSS: %s%n", Human.bytes(s.largestTensorBytes()), Human.bytes(ProcessMemory.peakRssBytes()));
        o.printf("  output: %s%n", s.out());
        o.flush();
        return 0;
    }
}
