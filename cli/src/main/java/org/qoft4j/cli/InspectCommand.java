package org.qoft4j.cli;

import org.qoft4j.core.Human;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.hf.BnbCheckpointCodec;
import org.qoft4j.quant.hf.QuantizationConfig;
import org.qoft4j.quant.hf.QuantizedLayerInfo;
import org.qoft4j.core.safetensors.HfCheckpoint;
import org.qoft4j.core.safetensors.TensorInfo;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import org.qoft4j.gguf.GgufInspector;

/**
 * {@code ./qoft4j inspect DIR}: the tensors of a model directory with dtype, shape and bytes; a quantized
 * layer is one line (its logical [out, in] shape, format, block or group size, bits per weight).
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "List the tensors of a Hugging Face model directory (dtypes, shapes, quantization and bytes, with totals) or of a GGUF file (metadata and tensors).")
public final class InspectCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR|FILE.gguf", description = "model directory (model.safetensors or sharded with model.safetensors.index.json), or a GGUF file")
    Path dir;

    @Option(names = "--raw", description = "list every stored key, including the parts of quantized layers")
    boolean raw;

    @Override
    public Integer call() {
        PrintWriter o = spec.commandLine().getOut();
        if (Files.isRegularFile(dir) && GgufInspector.isGguf(dir)) {
            GgufInspector.print(dir, o, raw ? Integer.MAX_VALUE : 8);
            o.flush();
            return 0;
        }
        try (HfCheckpoint ckpt = HfCheckpoint.open(dir)) {
            String quantization;
            try {
                QuantizationConfig qc = QuantizationConfig.fromModelConfig(ckpt.config());
                quantization = qc == null ? "" : "; quantization_config: " + describe(qc);
            } catch (IllegalArgumentException e) {   // listing the tensors is still useful
                quantization = "; quantization_config not understood: " + e.getMessage();
            }
            o.printf("%s: %d tensor(s) in %d file(s)%s%n", dir, ckpt.names().size(), ckpt.files().size(), quantization);
            Set<String> partOfLayer = new HashSet<>();
            List<String> prefixes = BnbCheckpointCodec.quantizedPrefixes(ckpt);
            for (String p : prefixes) partOfLayer.addAll(BnbCheckpointCodec.keysOf(ckpt, p));
            Set<String> printedLayers = new HashSet<>();
            o.printf("%-56s %-6s %-16s %12s  %s%n", "NAME", "DTYPE", "SHAPE", "BYTES", "QUANTIZATION");
            long total = 0, fullPrecision = 0, quantizedBytes = 0, quantizedParams = 0;
            for (String name : ckpt.names()) {
                TensorInfo t = ckpt.info(name);
                total += t.byteLength();
                if (!partOfLayer.contains(name)) {
                    fullPrecision += t.byteLength();
                    o.printf("%-56s %-6s %-16s %12d  -%n", name, t.dtype(), Arrays.toString(t.shape()), t.byteLength());
                    continue;
                }
                if (raw) o.printf("%-56s %-6s %-16s %12d  (part)%n", name, t.dtype(), Arrays.toString(t.shape()), t.byteLength());
                String prefix = prefixOf(name, prefixes);
                if (printedLayers.add(prefix)) {
                    QuantizedLayerInfo l = BnbCheckpointCodec.describe(ckpt, prefix);
                    quantizedBytes += l.bytes();
                    quantizedParams += l.numel();
                    o.printf(Locale.ROOT, "%-56s %-6s %-16s %12d  %s%n", prefix, l.type().lowerName(), "[" + l.rows() + ", " + l.cols() + "]",
                            l.bytes(), describe(l));
                }
            }
            o.printf(Locale.ROOT, "total: %d bytes (%s): %d quantized layers, %,d params in %d bytes (%.3f bits/weight); %d bytes full precision%n",
                    total, Human.bytes(total), printedLayers.size(), quantizedParams, quantizedBytes,
                    quantizedParams == 0 ? 0.0 : quantizedBytes * 8.0 / quantizedParams, fullPrecision);
        }
        o.flush();
        return 0;
    }

    /** The longest quantized-layer prefix that {@code key} extends. */
    private static String prefixOf(String key, List<String> prefixes) {
        String best = null;
        for (String p : prefixes) if (key.startsWith(p + ".") && (best == null || p.length() > best.length())) best = p;
        return best;
    }

    private static String describe(QuantizedLayerInfo l) {
        if (l.type() == QuantType.INT4) return String.format(Locale.ROOT, "int4 gptq, group size %d, %.3f bits/weight", l.groupSize(), l.bitsPerWeight());
        return String.format(Locale.ROOT, "%s bnb, blocksize %d%s, %.3f bits/weight", l.type().lowerName(), l.blocksize(),
                l.doubleQuant() ? ", double quant" : "", l.bitsPerWeight());
    }

    private static String describe(QuantizationConfig qc) {
        if (qc.type() == QuantType.INT4) return "gptq int4, group size " + qc.groupSize();
        return "bitsandbytes " + qc.type().lowerName() + (qc.doubleQuant() ? ", double quant" : "") + ", compute " + qc.computeDtype()
                + (qc.skipModules() == null ? "" : ", skip " + qc.skipModules());
    }
}
