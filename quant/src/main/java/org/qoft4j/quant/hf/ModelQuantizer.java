package org.qoft4j.quant.hf;

import org.qoft4j.core.HfJson;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.linear.Quantizer;
import org.qoft4j.core.AtomicFiles;
import org.qoft4j.core.safetensors.HfCheckpoint;
import org.qoft4j.core.safetensors.SafetensorsException;
import org.qoft4j.core.safetensors.SafetensorsFile;
import org.qoft4j.core.safetensors.SafetensorsSpool;
import org.qoft4j.core.safetensors.TensorInfo;

/**
 * Hugging Face model directory (bf16/fp16/fp32; one file or shards) to a quantized model directory:
 * every linear weight of the decoder layers ({@code model.layers.*._proj.weight}, 2-D) is quantized —
 * nf4/fp4 in the bitsandbytes layout, int4 in the GPTQ layout ({@link BnbCheckpointCodec}) — unless a
 * skip entry matches its module path; embeddings, norms, {@code lm_head} and everything else are
 * copied as they are. config.json gets a {@code quantization_config}; tokenizer and other top-level
 * files are copied; the shard structure is kept (same file names, a new index).
 *
 * <p>One tensor at a time: each is read, quantized, appended to a spool file and released, so peak
 * memory is about the largest single tensor plus its quantized form. Everything is written into a
 * hidden temporary directory beside the output, which is renamed into place only when complete.
 */
public final class ModelQuantizer {
    /** File names (lower case) never copied: weights in other formats would carry the full-precision model along. */
    private static final List<String> WEIGHT_SUFFIXES = List.of(".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf", ".onnx");

    /**
     * @param skipModules module paths (substring match, as transformers' llm_int8_skip_modules) kept in full precision; may be empty
     * @param overwrite   replace a non-empty output directory
     * @param progress    receives one line per quantized tensor, or null
     */
    public record Options(QuantSpec spec, List<String> skipModules, boolean overwrite, Consumer<String> progress) {
        public Options {
            skipModules = skipModules == null ? List.of() : List.copyOf(skipModules);
        }

        public static Options of(QuantSpec spec) {
            return new Options(spec, List.of(), false, null);
        }

        public Options withOverwrite(boolean o) {
            return new Options(spec, skipModules, o, progress);
        }

        public Options withSkipModules(List<String> s) {
            return new Options(spec, s, overwrite, progress);
        }

        public Options withProgress(Consumer<String> p) {
            return new Options(spec, skipModules, overwrite, p);
        }
    }

    /**
     * @param paramsQuantized       weights stored in 4 bits
     * @param quantizedBytesBefore  bytes of those weights in the input
     * @param quantizedBytesAfter   bytes of every tensor written for them (codes, statistics, quant_state)
     * @param bytesBefore           all tensor data in the input
     * @param bytesAfter            all tensor data in the output
     * @param largestTensorBytes    the largest single input tensor (what peak memory should stay near)
     * @param filesCopied           other files copied from the input directory
     */
    public record Summary(Path out, QuantSpec spec, int tensorsQuantized, int tensorsCopied, long paramsQuantized,
                          long quantizedBytesBefore, long quantizedBytesAfter, long bytesBefore, long bytesAfter,
                          long largestTensorBytes, List<String> filesCopied) {
        /** Bits per quantized weight, statistics included. */
        public double bitsPerWeight() {
            return paramsQuantized == 0 ? 0 : quantizedBytesAfter * 8.0 / paramsQuantized;
        }

        Summary withFilesCopied(List<String> files) {
            return new Summary(out, spec, tensorsQuantized, tensorsCopied, paramsQuantized, quantizedBytesBefore, quantizedBytesAfter,
                    bytesBefore, bytesAfter, largestTensorBytes, List.copyOf(files));
        }
    }

    private ModelQuantizer() {}

    /** Whether the checkpoint key {@code name} of shape {@code shape} is a decoder-layer linear weight to quantize under {@code qc}. */
    public static boolean isQuantizable(String name, long[] shape, QuantizationConfig qc) {
        if (!name.startsWith("model.layers.") || !name.endsWith("_proj.weight") || shape.length != 2) return false;
        return !qc.skips(name.substring(0, name.length() - ".weight".length()));
    }

    public static Summary quantize(Path in, Path out, Options opt) {
        Path inDir = in.toAbsolutePath().normalize(), outDir = out.toAbsolutePath().normalize();
        checkDirectories(inDir, outDir, opt.overwrite());
        try (HfCheckpoint ckpt = HfCheckpoint.open(inDir)) {
            ObjectNode config = ckpt.config();
            if (config == null) throw new SafetensorsException(inDir, null, "has no config.json");
            if (config.has(QuantizationConfig.KEY) && !config.get(QuantizationConfig.KEY).isNull())
                throw new SafetensorsException(inDir.resolve(HfCheckpoint.CONFIG_FILE), null, "the model is already quantized (it has a quantization_config)");
            QuantizationConfig qc = QuantizationConfig.of(opt.spec(), computeDtype(config), skipList(opt));

            Path temp = outDir.resolveSibling("." + outDir.getFileName() + ".tmp-" + UUID.randomUUID().toString().substring(0, 8));
            try {
                Files.createDirectories(temp);
                Summary s = convert(ckpt, temp, outDir, qc, opt);
                config.set(QuantizationConfig.KEY, qc.toJson());
                HfJson.write(temp.resolve(HfCheckpoint.CONFIG_FILE), config);
                List<String> copied = copyOtherFiles(inDir, temp);
                install(temp, outDir);
                return s.withFilesCopied(copied);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + outDir + ": " + e.getMessage(), e);
            } finally {
                AtomicFiles.deleteQuietly(temp);
            }
        }
    }

    /** Transformers would quantize lm_head too once a skip list is given, so an explicit list always names it. */
    private static List<String> skipList(Options opt) {
        if (opt.skipModules().isEmpty()) return null;
        List<String> s = new ArrayList<>(opt.skipModules());
        if (!s.contains("lm_head")) s.add("lm_head");
        return s;
    }

    private static String computeDtype(ObjectNode config) {
        String d = config.path("torch_dtype").asText(config.path("dtype").asText("float32"));
        try {
            return BnbQuantState.pythonDtype(BnbQuantState.torchDtype(d));
        } catch (IllegalArgumentException e) {
            return "float32";
        }
    }

    private static void checkDirectories(Path in, Path out, boolean overwrite) {
        if (in.equals(out) || in.startsWith(out))
            throw new SafetensorsException(out, null, "the output directory must not be the input directory or contain it");
        if (Files.exists(out, LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.isDirectory(out, LinkOption.NOFOLLOW_LINKS)) throw new SafetensorsException(out, null, "exists and is not a directory");
            if (!isEmpty(out) && !overwrite)
                throw new SafetensorsException(out, null, "output directory is not empty (pass --overwrite to replace it)");
        }
    }

    private static boolean isEmpty(Path dir) {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            return !s.iterator().hasNext();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes every shard (same names) and, for a sharded input, a new index into {@code temp}. */
    private static Summary convert(HfCheckpoint ckpt, Path temp, Path outDir, QuantizationConfig qc, Options opt) {
        int quantized = 0, copied = 0;
        long params = 0, qBefore = 0, qAfter = 0, before = 0, after = 0, largest = 0;
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (Map.Entry<String, SafetensorsFile> shard : ckpt.files().entrySet()) {
            SafetensorsFile file = shard.getValue();
            Map<String, String> metadata = new LinkedHashMap<>(file.metadata());
            metadata.putIfAbsent("format", "pt");
            try (SafetensorsSpool spool = SafetensorsSpool.create(temp.resolve(shard.getKey()), metadata)) {
                for (String name : file.names()) {
                    TensorInfo info = file.info(name);
                    before += info.byteLength();
                    largest = Math.max(largest, info.byteLength());
                    long start = spool.dataBytes();
                    if (!isQuantizable(name, info.shape(), qc)) {
                        checkNew(spool, file, name);
                        spool.copy(file, name);   // byte for byte, never loaded
                        copied++;
                        continue;
                    }
                    String prefix = name.substring(0, name.length() - ".weight".length());
                    try (PointerScope scope = new PointerScope();
                         QuantizedWeight w = quantizeOne(file, name, file.load(name), opt.spec())) {
                        for (Map.Entry<String, Tensor> e : BnbCheckpointCodec.tensors(prefix, w).entrySet()) {
                            checkNew(spool, file, e.getKey());
                            spool.add(e.getKey(), e.getValue());
                        }
                    }
                    quantized++;
                    params += info.numel();
                    qBefore += info.byteLength();
                    qAfter += spool.dataBytes() - start;
                    if (opt.progress() != null)
                        opt.progress().accept(String.format(Locale.ROOT, "%s %s %s -> %d bytes", name, info.dtype(),
                                java.util.Arrays.toString(info.shape()), spool.dataBytes() - start));
                }
                for (var e : spool.entries()) weightMap.put(e.name(), shard.getKey());
                after += spool.dataBytes();
                spool.commit();
            }
        }
        if (ckpt.sharded()) HfCheckpoint.writeIndex(temp, after, weightMap);
        return new Summary(outDir, opt.spec(), quantized, copied, params, qBefore, qAfter, before, after, largest, List.of());
    }

    private static QuantizedWeight quantizeOne(SafetensorsFile file, String name, Tensor t, QuantSpec spec) {
        try {
            return Quantizer.quantize(name, t, spec);
        } catch (IllegalArgumentException e) {
            String hint = spec.type() == QuantType.INT4 ? " (int4 needs in_features divisible by the group size " + spec.groupSize()
                    + " and out_features divisible by 8; pick another --group-size or skip the module)" : "";
            throw new SafetensorsException(file.path(), name, "cannot quantize to " + spec.type().lowerName() + ": " + e.getMessage() + hint, e);
        }
    }

    /** An input that already holds e.g. {@code P.weight.absmax} beside {@code P.weight} would collide with the layer's new keys. */
    private static void checkNew(SafetensorsSpool spool, SafetensorsFile source, String key) {
        if (spool.contains(key))
            throw new SafetensorsException(source.path(), key, "the quantized layout would write this key twice (the input already has it)");
    }

    /** Top-level regular files other than weights and config.json (tokenizer, generation config, README, license...). */
    private static List<String> copyOtherFiles(Path in, Path temp) throws IOException {
        List<String> copied = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(in)) {
            for (Path p : s) {
                String n = p.getFileName().toString();
                String lower = n.toLowerCase(Locale.ROOT);
                if (!Files.isRegularFile(p) || n.startsWith(".") || n.equals(HfCheckpoint.CONFIG_FILE) || n.equals(HfCheckpoint.INDEX_FILE)
                        || n.endsWith(".index.json") || WEIGHT_SUFFIXES.stream().anyMatch(lower::endsWith)) continue;
                Files.copy(p, temp.resolve(n), StandardCopyOption.COPY_ATTRIBUTES);
                copied.add(n);
            }
        }
        copied.sort(null);
        return copied;
    }

    /** Puts the finished {@code temp} directory in place of {@code out} (which, if present, is empty or replaced). */
    private static void install(Path temp, Path out) throws IOException {
        if (!Files.exists(out, LinkOption.NOFOLLOW_LINKS) || isEmpty(out)) {
            AtomicFiles.move(temp, out);
            return;
        }
        Path old = out.resolveSibling("." + out.getFileName() + ".old-" + UUID.randomUUID().toString().substring(0, 8));
        AtomicFiles.move(out, old);
        try {
            AtomicFiles.move(temp, out);
        } catch (IOException e) {
            AtomicFiles.move(old, out);   // put the previous output back
            throw e;
        }
        AtomicFiles.deleteQuietly(old);
    }
}
