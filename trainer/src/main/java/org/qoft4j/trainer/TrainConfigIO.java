package org.qoft4j.trainer;

import org.qoft4j.core.ParseErrors;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.qoft4j.core.AtomicFiles;

/**
 * {@link TrainConfig} from layers of settings, each applied on top of the previous: the defaults (or a checkpoint's
 * config), a YAML file, command-line flags, then {@code key=value} overrides. Keys are kebab-case
 * ({@code batch-size}); an unknown key or a value of the wrong type is an error naming the key and its source.
 * Giving {@code epochs} without {@code steps} in a layer switches the run to epochs (and vice versa).
 */
public final class TrainConfigIO {
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER))
            .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

    /** Settings from one source; {@code source} names it in error messages ("config.yaml", "key=value overrides"). */
    public record Layer(String source, ObjectNode values) {}

    private TrainConfigIO() {}

    /**
     * {@code base} with every layer applied in order, validated. Every problem is reported at once, one line each:
     * a value of the wrong type (named with the layer it came from) and every invalid value ({@link TrainConfig#problems()}).
     */
    public static TrainConfig resolve(TrainConfig base, List<Layer> layers) {
        ObjectNode node = YAML.valueToTree(base);
        ObjectNode fallback = node.deepCopy();
        List<String> errors = new ArrayList<>();
        for (Layer l : layers) {
            apply(node, l);
            convertCollecting(node, fallback, l.source(), errors); // type errors are reported against the layer that caused them
        }
        TrainConfig c = convert(node, "configuration");
        errors.addAll(c.problems());
        if (!errors.isEmpty()) throw new ConfigException("invalid training configuration:\n  - " + String.join("\n  - ", errors));
        return c;
    }

    /** Converts {@code node}; each option whose value cannot be read is reported and put back to its {@code fallback} value. */
    private static void convertCollecting(ObjectNode node, ObjectNode fallback, String source, List<String> errors) {
        for (int i = 0; i <= node.size(); i++) {
            try {
                YAML.treeToValue(node, TrainConfig.class);
                return;
            } catch (ConfigException e) {
                throw e;
            } catch (JsonProcessingException e) {
                String key = e instanceof JsonMappingException m && !m.getPath().isEmpty() ? m.getPath().get(0).getFieldName() : null;
                if (key == null || !fallback.has(key)) throw new ConfigException(source + ": " + e.getOriginalMessage(), e);
                errors.add(typeError(source, key, node.get(key), e));
                node.set(key, fallback.get(key));
            }
        }
    }

    /** A YAML mapping of options. */
    public static Layer fromYaml(Path file) {
        JsonNode n;
        try {
            n = YAML.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new ConfigException(file + ": not valid YAML: " + ParseErrors.describe(e), e);
        }
        if (n == null || n.isMissingNode() || n.isNull()) return new Layer(file.toString(), YAML.createObjectNode());
        if (!n.isObject()) throw new ConfigException(file + ": expected a YAML mapping of options (key: value), got " + n.getNodeType());
        return new Layer(file.toString(), (ObjectNode) n);
    }

    /** {@code key=value} strings; each value is read as a YAML scalar or flow list ({@code lr=1e-4}, {@code target-modules=[q_proj,v_proj]}). */
    public static Layer fromOverrides(List<String> keyValues) {
        return fromKeyValues(keyValues, "key=value overrides");
    }

    /** As {@link #fromOverrides}, naming {@code source} in errors (e.g. "command-line flags"). */
    public static Layer fromKeyValues(List<String> keyValues, String source) {
        ObjectNode o = YAML.createObjectNode();
        for (String kv : keyValues) {
            int eq = kv.indexOf('=');
            if (eq <= 0) throw new ConfigException("override '" + kv + "': expected key=value (e.g. lr=1e-4)");
            String key = kv.substring(0, eq).trim(), value = kv.substring(eq + 1).trim();
            try {
                JsonNode v = value.isEmpty() ? NullNode.getInstance() : YAML.readTree(value);
                o.set(key, v == null || v.isMissingNode() ? NullNode.getInstance() : v);
            } catch (JsonProcessingException e) {
                throw new ConfigException("override '" + kv + "': the value is not a YAML scalar or list: " + ParseErrors.describe(e), e);
            }
        }
        return new Layer(source, o);
    }

    /** Values given as command-line flags, by option key; null values (flags not given) are left out. */
    public static Layer fromValues(Map<String, ?> values, String source) {
        Map<String, Object> given = new LinkedHashMap<>();
        values.forEach((k, v) -> {
            if (v != null) given.put(k, v);
        });
        return new Layer(source, YAML.valueToTree(given));
    }

    /** A config written by {@link #write} (a checkpoint's config.yaml), on top of the defaults; not validated. */
    public static TrainConfig read(Path file) {
        ObjectNode node = YAML.valueToTree(TrainConfig.defaults());
        Layer l = fromYaml(file);
        apply(node, l);
        return convert(node, l.source());
    }

    /** Writes every option as YAML, atomically. */
    public static void write(TrainConfig c, Path file) {
        try {
            AtomicFiles.write(file, YAML.writeValueAsBytes(c));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize " + c, e);
        }
    }

    /** The option keys, in declaration order. */
    public static List<String> keys() {
        List<String> keys = new ArrayList<>();
        YAML.valueToTree(TrainConfig.defaults()).fieldNames().forEachRemaining(keys::add);
        return keys;
    }

    /** {@code "key (checkpoint: a, now: b)"} for every option outside {@code ignoring} whose value differs. */
    public static List<String> differences(TrainConfig before, TrainConfig now, Set<String> ignoring) {
        ObjectNode a = YAML.valueToTree(before), b = YAML.valueToTree(now);
        List<String> d = new ArrayList<>();
        for (String k : keys())
            if (!ignoring.contains(k) && !a.get(k).equals(b.get(k))) d.add(k + " (checkpoint: " + a.get(k) + ", now: " + b.get(k) + ")");
        return d;
    }

    private static void apply(ObjectNode node, Layer layer) {
        for (Iterator<Map.Entry<String, JsonNode>> it = layer.values().fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            if (!node.has(key))
                throw new ConfigException(layer.source() + ": unknown option '" + key + "'; known options: " + String.join(", ", keys()));
            JsonNode v = e.getValue();
            if (node.get(key).isArray() && v.isTextual()) { // target-modules=q_proj,v_proj
                ArrayNode list = YAML.createArrayNode();
                for (String s : v.asText().split(",")) if (!s.isBlank()) list.add(s.trim());
                v = list;
            } else if (node.get(key).isArray() && v.isValueNode() && !v.isNull()) { // layers-to-transform=3, as PEFT takes one index
                v = YAML.createArrayNode().add(v);
            }
            node.set(key, v);
        }
        boolean steps = layer.values().has("steps"), epochs = layer.values().has("epochs");
        if (epochs && !steps) node.put("steps", 0);
        if (steps && !epochs) node.put("epochs", 0);
    }

    private static TrainConfig convert(ObjectNode node, String source) {
        try {
            return YAML.treeToValue(node, TrainConfig.class);
        } catch (JsonMappingException e) {
            String key = e.getPath().isEmpty() ? null : e.getPath().get(0).getFieldName();
            if (key == null) throw new ConfigException(source + ": " + e.getOriginalMessage(), e);
            throw new ConfigException(typeError(source, key, node.get(key), e), e);
        } catch (JsonProcessingException e) {
            throw new ConfigException(source + ": " + e.getOriginalMessage(), e);
        }
    }

    /** One line: the source, the option, what it must be (a typed value's own parser says it best) and the value given. */
    private static String typeError(String source, String key, JsonNode value, Exception e) {
        if (e.getCause() instanceof IllegalArgumentException iae) return source + ": option '" + key + "': " + iae.getMessage();
        return source + ": option '" + key + "' must be " + expected(key) + ", got " + value;
    }

    private static String expected(String key) {
        for (RecordComponent rc : TrainConfig.class.getRecordComponents()) {
            if (!PropertyNamingStrategies.KebabCaseStrategy.INSTANCE.translate(rc.getName()).equals(key)) continue;
            Class<?> t = rc.getType();
            if (t == int.class || t == long.class) return "an integer";
            if (t == double.class) return "a number";
            if (t == boolean.class || t == Boolean.class) return "true or false";
            if (t == List.class) return "a list";
            if (t == Map.class) return "a mapping ({key: value, ...})";
            return "a string";
        }
        return "a valid value";
    }
}
