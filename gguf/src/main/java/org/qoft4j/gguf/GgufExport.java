package org.qoft4j.gguf;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.model.ModelFormatException;

/**
 * Exports a Hugging Face model directory (optionally with a PEFT adapter folded in) as one GGUF file that llama.cpp,
 * Ollama and LM Studio run: llama.cpp's architecture, hyperparameters, tensor names and layouts
 * ({@link LlamaCppArchitecture}), the tokenizer ({@link GgufVocabulary}), each tensor in the type
 * {@link QuantRecipe} picks, encoded as ggml does ({@link GgmlCodec}). Tensors are read, converted and written one at
 * a time. Everything that can be checked is checked before the file is started (architecture, tokenizer, adapter,
 * every tensor's presence and shape), and the file is written under a temporary name and renamed at the end
 * ({@link GgufWriter}): an error leaves no file behind.
 */
public final class GgufExport {
    /**
     * @param adapter   PEFT adapter directory, or null
     * @param requantize null, or the 4-bit format to round-trip the base through before merging (merge's --quant)
     * @param name      general.name; null = the model directory's name
     */
    public record Options(Path model, Path adapter, Path out, GgufFileType type, QuantSpec requantize, boolean overwrite, String name) {
        public Options {
            if (model == null || out == null || type == null) throw new IllegalArgumentException("model, out and type are required");
        }

        public static Options of(Path model, Path out, GgufFileType type) {
            return new Options(model, null, out, type, null, false, null);
        }

        public Options withAdapter(Path a) {
            return new Options(model, a, out, type, requantize, overwrite, name);
        }

        public Options withRequantize(QuantSpec q) {
            return new Options(model, adapter, out, type, q, overwrite, name);
        }

        public Options withOverwrite(boolean o) {
            return new Options(model, adapter, out, type, requantize, o, name);
        }

        public Options withName(String n) {
            return new Options(model, adapter, out, type, requantize, overwrite, n);
        }
    }

    /** What was written. */
    public record Report(Path out, long bytes, String architecture, GgufFileType type, Map<GgmlType, Integer> tensorsByType, List<String> fallbacks,
                         String merge, GgufVocabulary vocabulary, List<String> notes) {
        public int tensorCount() {
            return tensorsByType.values().stream().mapToInt(Integer::intValue).sum();
        }
    }

    private GgufExport() {}

    /** Runs the export; {@code log} gets progress lines. */
    public static Report run(Options o, Consumer<String> log) {
        Path out = o.out().toAbsolutePath().normalize();
        if (Files.isDirectory(out)) throw new IllegalArgumentException(out + ": is a directory; --out names the .gguf file to write");
        if (Files.exists(out) && !o.overwrite()) throw new IllegalArgumentException(out + ": already exists (pass --overwrite to replace it)");
        if (!Files.isDirectory(o.model())) throw new IllegalArgumentException(o.model() + ": not a model directory");
        LlamaConfig c;
        try {
            c = LlamaConfig.read(o.model());
        } catch (ModelFormatException e) {
            throw new GgufFormatException(e.getMessage() + " (GGUF export supports the architectures qoft4j loads: llama, mistral, qwen2, qwen3)", e);
        }
        LlamaCppArchitecture arch = LlamaCppArchitecture.of(c);
        GgufVocabulary vocab = GgufVocabulary.read(o.model(), c.vocabSize(), c.eosTokenIds());
        List<String> notes = new ArrayList<>(arch.notes());
        notes.addAll(vocab.notes());
        if (o.type() == GgufFileType.Q4_K_M && c.numLayers() == 80 && c.numHeads() != c.numKvHeads())
            notes.add("llama-quantize stores attn_v of 70B models in q5_K; qoft4j's q4_k_m keeps its usual q4_K/q6_K choice there");

        try (ExportTensors tensors = ExportTensors.open(o.model(), c, o.adapter(), o.requantize())) {
            log.accept("model: " + o.model() + " (" + c.family().modelType() + " -> llama.cpp " + arch.name() + ", " + c.numLayers() + " layers, hidden "
                    + c.hiddenSize() + ", vocab " + c.vocabSize() + ")");
            log.accept("weights: " + tensors.mergeDescription());
            GgufWriter w = new GgufWriter();
            String name = o.name() != null ? o.name() : o.model().toAbsolutePath().normalize().getFileName().toString();
            Map<String, GgufValue> md = new LinkedHashMap<>(arch.metadata());
            w.put("general.architecture", md.remove("general.architecture"));
            w.put("general.type", GgufValue.string("model"));
            w.put("general.name", GgufValue.string(name));
            if (o.adapter() != null) w.put("general.finetune", GgufValue.string(o.adapter().toAbsolutePath().normalize().getFileName().toString()));
            w.put("general.file_type", GgufValue.uint32(o.type().ftype()));
            w.put("general.quantization_version", GgufValue.uint32(2));
            md.forEach(w::put);
            vocab.metadata().forEach(w::put);

            QuantRecipe recipe = new QuantRecipe(o.type(), c.numLayers(), c.tieWordEmbeddings());
            Map<GgmlType, Integer> byType = new EnumMap<>(GgmlType.class);
            for (LlamaCppArchitecture.TensorMapping t : arch.tensors()) {
                long[] ne = t.ne();
                GgmlType type = recipe.choose(t.ggufName(), ne).type();
                byType.merge(type, 1, Integer::sum);
                GgufWriter.TensorData data = t.hfName() == null
                        ? out1 -> writeFloats(arch.ropeFreqs(), GgmlType.F32, out1)
                        : out1 -> writeTensor(tensors, arch, t, type, out1);
                w.addTensor(t.ggufName(), ne, type, data);
            }
            List<String> fallbacks = recipe.fallbacks();
            if (!fallbacks.isEmpty()) {
                log.accept(fallbacks.size() + " tensor(s) fall back to another type, as llama.cpp does:");
                fallbacks.forEach(f -> log.accept("  " + f));
            }
            log.accept("writing " + out + " (" + o.type().cliName() + ", " + w.tensors().size() + " tensors) ...");
            long bytes = w.write(out);
            return new Report(out, bytes, arch.name(), o.type(), byType, fallbacks, tensors.mergeDescription(), vocab, List.copyOf(notes));
        }
    }

    private static void writeTensor(ExportTensors tensors, LlamaCppArchitecture arch, LlamaCppArchitecture.TensorMapping m, GgmlType type, OutputStream out)
            throws IOException {
        try (PointerScope scope = new PointerScope()) {
            Tensor t = arch.toLlamaCppLayout(m.hfName(), tensors.load(m.hfName())).contiguous();
            int cols = Math.toIntExact(m.shape()[m.shape().length - 1]);
            long rows = t.numel() / cols;
            int rowsPerChunk = (int) Math.max(1, Math.min(rows, (1 << 22) / cols)); // ~16 MiB of floats at a time
            float[] buf = new float[Math.toIntExact((long) rowsPerChunk * cols)];
            int rowBytes = Math.toIntExact(type.rowBytes(cols));
            byte[] encoded = new byte[rowsPerChunk * rowBytes];
            FloatPointer p = t.data_ptr_float();
            for (long r = 0; r < rows; r += rowsPerChunk) {
                int n = (int) Math.min(rowsPerChunk, rows - r);
                p.position(r * cols).get(buf, 0, n * cols);
                // rows are independent: encode them on all cores (the k-quant searches dominate an export's time)
                IntStream.range(0, n).parallel().forEach(i ->
                        GgmlCodec.encode(type, buf, i * cols, cols, ByteBuffer.wrap(encoded, i * rowBytes, rowBytes).slice()));
                out.write(encoded, 0, n * rowBytes);
            }
        }
    }

    private static void writeFloats(float[] x, GgmlType type, OutputStream out) throws IOException {
        out.write(GgmlCodec.encode(type, x, 0, x.length));
    }

    /** The summary printed after an export: size, tensors by type, where the weights came from, and how to run the file. */
    public static String summary(Report r, String modelfile) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "wrote %s: %s (%d bytes), GGUF v3, %s, %s%n", r.out(), human(r.bytes()), r.bytes(), r.architecture(), r.type().cliName()));
        StringBuilder types = new StringBuilder();
        r.tensorsByType().forEach((t, n) -> types.append(types.length() == 0 ? "" : ", ").append(n).append(' ').append(t.ggmlName()));
        b.append("tensors: ").append(r.tensorCount()).append(" (").append(types).append(")\n");
        b.append("weights: ").append(r.merge()).append('\n');
        b.append("tokenizer: ").append(r.vocabulary().model()).append(" (pre ").append(r.vocabulary().pre()).append("), special ids ")
                .append(r.vocabulary().specialIds()).append(r.vocabulary().chatTemplate() != null ? ", chat template included" : ", no chat template").append('\n');
        if (!r.fallbacks().isEmpty()) b.append("fallbacks: ").append(r.fallbacks().size()).append(" tensor(s), listed above\n");
        for (String n : r.notes()) b.append("note: ").append(n).append('\n');
        String f = r.out().toString();
        b.append("run it:\n");
        b.append("  llama.cpp:  llama-cli -m ").append(f).append(r.vocabulary().chatTemplate() != null ? " -cnv" : " -p \"...\"").append('\n');
        b.append("              llama-server -m ").append(f).append(" --port 8080\n");
        String tag = r.out().getFileName().toString().replaceFirst("\\.gguf$", "").toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9._-]", "-");
        if (modelfile != null) b.append("  Ollama:     ollama create ").append(tag).append(" -f ").append(modelfile).append(" && ollama run ").append(tag).append('\n');
        b.append("  LM Studio:  lms import ").append(f).append('\n');
        return b.toString();
    }

    static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] u = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int i = -1;
        while (v >= 1024 && i < u.length - 1) {
            v /= 1024;
            i++;
        }
        return String.format(Locale.ROOT, "%.2f %s", v, u[i]);
    }
}
