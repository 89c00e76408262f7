package org.qoft4j.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.qoft4j.core.safetensors.HfCheckpoint;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.safetensors.DType;
import org.qoft4j.core.safetensors.SafetensorsWriter;

/**
 * Writes a Hugging Face model directory ({@code config.json} and {@code model.safetensors}, or shards with
 * {@code model.safetensors.index.json}) from a {@link TensorSource}, one tensor at a time. Everything is written
 * into a temporary directory next to the target, renamed onto it at the end: a failure leaves no partial model.
 */
public final class HfModelWriter {

    private HfModelWriter() {}

    /**
     * @param dtype         stored dtype (e.g. Float, BFloat16), or null to keep each tensor's own
     * @param maxShardBytes split into shards of at most this many bytes (a tensor never straddles two); 0 = one file
     */
    public static void write(LlamaConfig c, TensorSource src, Path outDir, ScalarType dtype, long maxShardBytes) {
        Path target = outDir.toAbsolutePath().normalize();
        try {
            if (Files.exists(target) && (!Files.isDirectory(target) || hasEntries(target)))
                throw new ModelFormatException(target + ": already exists and is not an empty directory; refusing to overwrite");
            Files.createDirectories(target.getParent());
            Path tmp = org.qoft4j.core.AtomicFiles.hiddenDirectory(target.getParent(), "." + target.getFileName() + "."); // umask applies
            try {
                writeInto(c, src, tmp, dtype, maxShardBytes);
                if (Files.exists(target)) Files.delete(target); // the empty directory the user made
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException | RuntimeException e) {
                deleteTree(tmp);
                throw e;
            }
        } catch (IOException e) {
            throw new ModelFormatException(target + ": cannot write model: " + e.getMessage(), e);
        }
    }

    /**
     * Writes the model files into {@code dir} (an existing, empty directory) directly, for callers that assemble a
     * larger directory atomically themselves (e.g. a merged model together with its tokenizer files).
     */
    public static void writeInto(LlamaConfig c, TensorSource src, Path dir, ScalarType dtype, long maxShardBytes) throws IOException {
        Map<String, long[]> expected = ModelLoader.expectedTensors(c);
        ModelLoader.checkTensors(c, src, module -> false);
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        ScalarType stored = null;
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            ScalarType st = dtype != null ? dtype.intern() : src.dtype(e.getKey()).intern();
            stored = stored == null ? st : stored;
            entries.add(new SafetensorsWriter.Entry(e.getKey(), DType.of(st), e.getValue()));
        }
        List<List<SafetensorsWriter.Entry>> shards = new ArrayList<>();
        List<SafetensorsWriter.Entry> cur = new ArrayList<>();
        long bytes = 0;
        for (SafetensorsWriter.Entry e : entries) {
            if (maxShardBytes > 0 && !cur.isEmpty() && bytes + e.byteLength() > maxShardBytes) {
                shards.add(cur);
                cur = new ArrayList<>();
                bytes = 0;
            }
            cur.add(e);
            bytes += e.byteLength();
        }
        shards.add(cur);
        Map<String, String> weightMap = new LinkedHashMap<>();
        long total = 0;
        for (int i = 0; i < shards.size(); i++) {
            String name = shards.size() == 1 ? "model.safetensors" : String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve(name), Map.of("format", "pt"), shards.get(i))) {
                for (SafetensorsWriter.Entry e : shards.get(i)) {
                    try (PointerScope scope = new PointerScope()) {
                        Tensor t = src.load(e.name());
                        w.write(e.name(), t.to(e.dtype().scalarType()).contiguous());
                    }
                    weightMap.put(e.name(), name);
                    total += e.byteLength();
                }
                w.commit();
            }
        }
        if (shards.size() > 1) HfCheckpoint.writeIndex(dir, total, weightMap);
        c.withTorchDtype(torchDtypeName(stored)).write(dir.resolve("config.json"));
    }

    static String torchDtypeName(ScalarType t) {
        if (t == ScalarType.BFloat16) return "bfloat16";
        if (t == ScalarType.Half) return "float16";
        if (t == ScalarType.Double) return "float64";
        return "float32";
    }

    private static boolean hasEntries(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isPresent();
        }
    }

    private static void deleteTree(Path p) {
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a leftover hidden temporary directory is harmless
        }
    }
}
