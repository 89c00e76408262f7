package org.qoft4j.core.safetensors;

import org.qoft4j.core.HfJson;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The weights of a Hugging Face model directory: {@code model.safetensors}, or the shards that
 * {@code model.safetensors.index.json} lists in its {@code weight_map}. Every shard's header is read
 * and cross-checked against the index on {@link #open}; tensor data is read only by {@link #load}.
 */
public final class HfCheckpoint implements AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";
    public static final String CONFIG_FILE = "config.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Path dir;
    private final boolean sharded;
    private final Map<String, SafetensorsFile> shards;   // by file name, in name order
    private final Map<String, SafetensorsFile> owner;    // tensor -> file, shard order then header order

    private HfCheckpoint(Path dir, boolean sharded, Map<String, SafetensorsFile> shards) {
        this.dir = dir;
        this.sharded = sharded;
        this.shards = shards;
        this.owner = new LinkedHashMap<>();
        for (SafetensorsFile f : shards.values()) for (String n : f.names()) owner.put(n, f);
    }

    /** Opens the weights of the model directory {@code dir}, validating every shard against the index. */
    public static HfCheckpoint open(Path dir) {
        if (!Files.isDirectory(dir)) throw new SafetensorsException(dir, null, "not a directory");
        Path index = dir.resolve(INDEX_FILE);
        if (Files.exists(index)) return openSharded(dir, index);
        Path single = dir.resolve(SINGLE_FILE);
        if (!Files.exists(single))
            throw new SafetensorsException(dir, null, "no " + SINGLE_FILE + " and no " + INDEX_FILE + " (only safetensors weights are supported)");
        Map<String, SafetensorsFile> one = new TreeMap<>();
        one.put(SINGLE_FILE, SafetensorsFile.open(single));
        return new HfCheckpoint(dir, false, one);
    }

    private static HfCheckpoint openSharded(Path dir, Path index) {
        Map<String, String> weightMap = readWeightMap(index);
        Map<String, List<String>> byShard = new TreeMap<>();
        weightMap.forEach((tensor, file) -> byShard.computeIfAbsent(file, k -> new ArrayList<>()).add(tensor));
        Map<String, SafetensorsFile> shards = new TreeMap<>();
        try {
            for (Map.Entry<String, List<String>> s : byShard.entrySet()) {
                Path p = dir.resolve(s.getKey());
                if (!Files.exists(p))
                    throw new SafetensorsException(index, s.getValue().get(0), "listed in shard '" + s.getKey() + "', which does not exist ("
                            + s.getValue().size() + " tensors listed there)");
                SafetensorsFile f = SafetensorsFile.open(p);
                shards.put(s.getKey(), f);
                for (String t : s.getValue())
                    if (!f.contains(t)) throw new SafetensorsException(p, t, "listed in " + INDEX_FILE + " for this shard but absent from it");
                for (String t : f.names())
                    if (!s.getKey().equals(weightMap.get(t)))
                        throw new SafetensorsException(p, t, weightMap.containsKey(t)
                                ? "present in this shard but " + INDEX_FILE + " places it in '" + weightMap.get(t) + "'"
                                : "present in this shard but not listed in " + INDEX_FILE);
            }
        } catch (RuntimeException e) {
            shards.values().forEach(SafetensorsFile::close);
            throw e;
        }
        return new HfCheckpoint(dir, true, shards);
    }

    private static Map<String, String> readWeightMap(Path index) {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (IOException e) {
            throw new SafetensorsException(index, null, "not valid JSON: " + org.qoft4j.core.ParseErrors.describe(e), e);
        }
        JsonNode wm = root == null ? null : root.get("weight_map");
        if (wm == null || !wm.isObject()) throw new SafetensorsException(index, null, "has no \"weight_map\" object");
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = wm.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (!v.isTextual() || v.textValue().isEmpty())
                throw new SafetensorsException(index, e.getKey(), "weight_map value must be a shard file name, found " + v);
            String f = v.textValue();
            if (f.contains("/") || f.contains("\\") || f.equals("..") || f.equals("."))
                throw new SafetensorsException(index, e.getKey(), "shard name '" + f + "' must be a plain file name in the model directory");
            out.put(e.getKey(), f);
        }
        return out;
    }

    public Path dir() {
        return dir;
    }

    /** Whether the weights come from {@code model.safetensors.index.json}. */
    public boolean sharded() {
        return sharded;
    }

    /** The weight files, by file name. */
    public Map<String, SafetensorsFile> files() {
        return java.util.Collections.unmodifiableMap(shards);
    }

    /** All tensor names: shard by shard (file name order), each in header order. */
    public List<String> names() {
        return new ArrayList<>(owner.keySet());
    }

    public boolean contains(String name) {
        return owner.containsKey(name);
    }

    /** The file that holds {@code name}. */
    public SafetensorsFile fileOf(String name) {
        SafetensorsFile f = owner.get(name);
        if (f == null) throw new SafetensorsException(dir, name, "no such tensor in this checkpoint (" + owner.size() + " tensors)");
        return f;
    }

    public TensorInfo info(String name) {
        return fileOf(name).info(name);
    }

    /** A new CPU tensor in the stored dtype. */
    public Tensor load(String name) {
        return fileOf(name).load(name);
    }

    public Tensor load(String name, ScalarType dtype) {
        return fileOf(name).load(name, dtype);
    }

    /** {@code config.json} of the directory, or null when it has none. */
    public ObjectNode config() {
        Path p = dir.resolve(CONFIG_FILE);
        if (!Files.exists(p)) return null;
        try {
            JsonNode n = JSON.readTree(p.toFile());
            if (n == null || !n.isObject()) throw new SafetensorsException(p, null, "must hold a JSON object");
            return (ObjectNode) n;
        } catch (IOException e) {
            throw new SafetensorsException(p, null, "not valid JSON: " + org.qoft4j.core.ParseErrors.describe(e), e);
        }
    }

    @Override
    public void close() {
        shards.values().forEach(SafetensorsFile::close);
    }

    /** Writes {@code model.safetensors.index.json}: {@code {"metadata": {"total_size": N}, "weight_map": {sorted names -> shard}}}. */
    public static void writeIndex(Path dir, long totalSize, Map<String, String> weightMap) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.putObject("metadata").put("total_size", totalSize);
        ObjectNode wm = root.putObject("weight_map");
        new TreeMap<>(weightMap).forEach(wm::put);
        HfJson.write(dir.resolve(INDEX_FILE), root);
    }
}
