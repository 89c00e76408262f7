package org.qoft4j.adapters.peft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.qoft4j.adapters.AdapterConfig;
import org.qoft4j.adapters.CayleyConvention;
import org.qoft4j.adapters.LoraConfig;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.TargetFilter;
import org.qoft4j.adapters.TargetModules;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** adapter_config.json to and from {@link AdapterConfig}, with PEFT's field names, defaults and version rules. */
final class PeftConfigJson {
    /** The PEFT release whose Cayley–Neumann formula and file format qoft4j's files follow (written as {@code peft_version}). */
    static final String FORMAT_VERSION = "0.18.0";

    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private PeftConfigJson() {}

    /**
     * A parsed config (its {@link AdapterConfig#filter()} holds {@code exclude_modules} and
     * {@code layers_to_transform}).
     *
     * @param targetsFromFile  true when the file had no {@code target_modules} (the caller then targets what the file holds)
     */
    record Parsed(AdapterConfig config, String peftVersion, String baseModel, boolean targetsFromFile) {
        /** Whether PEFT would wrap {@code path} under this config. */
        boolean targets(String path) {
            return config.targets(path);
        }
    }

    static ObjectNode toJson(AdapterConfig config, String baseModel) {
        ObjectNode o = F.objectNode(); // keys in sorted order, as PEFT writes them (json.dumps(sort_keys=True))
        if (config instanceof OftConfig c) {
            o.putNull("auto_mapping");
            o.put("base_model_name_or_path", baseModel);
            o.put("bias", "none");
            o.put("block_share", c.blockShare());
            o.put("coft", c.coft());
            o.put("eps", c.eps());
            o.set("exclude_modules", modulesOrNull(c.filter().exclude()));
            o.put("fan_in_fan_out", false);
            o.put("inference_mode", true);
            o.put("init_weights", c.initWeights());
            o.set("layers_pattern", stringsOrNull(c.filter().layersPattern()));
            o.set("layers_to_transform", intsOrNull(c.filter().layers()));
            o.put("module_dropout", c.moduleDropout());
            o.putNull("modules_to_save");
            o.put("num_cayley_neumann_terms", c.neumannTerms());
            o.put("oft_block_size", c.blockSize());
            o.put("peft_type", "OFT");
            o.put("peft_version", FORMAT_VERSION);
            o.put("r", c.r());
            o.putNull("revision");
            o.set("target_modules", targets(c.targetModules()));
            o.put("task_type", "CAUSAL_LM");
            o.put("use_cayley_neumann", c.useCayleyNeumann());
        } else {
            LoraConfig c = (LoraConfig) config;
            ObjectNode alphas = o.putObject("alpha_pattern");
            c.alphaPattern().forEach((k, v) -> putNumber(alphas, k, v));
            o.putNull("auto_mapping");
            o.put("base_model_name_or_path", baseModel);
            o.put("bias", "none");
            o.set("exclude_modules", modulesOrNull(c.filter().exclude()));
            o.put("fan_in_fan_out", false);
            o.put("inference_mode", true);
            o.put("init_lora_weights", true);
            o.set("layers_pattern", stringsOrNull(c.filter().layersPattern()));
            o.set("layers_to_transform", intsOrNull(c.filter().layers()));
            putNumber(o, "lora_alpha", c.alpha());
            o.put("lora_dropout", c.dropout());
            o.putNull("modules_to_save");
            o.put("peft_type", "LORA");
            o.put("peft_version", FORMAT_VERSION);
            o.put("r", c.r());
            ObjectNode ranks = o.putObject("rank_pattern");
            c.rankPattern().forEach(ranks::put);
            o.putNull("revision");
            o.set("target_modules", targets(c.targetModules()));
            o.put("task_type", "CAUSAL_LM");
            o.put("use_dora", false);
            o.put("use_rslora", c.useRslora());
        }
        return o;
    }

    /** An integral alpha as an integer (PEFT's configs hold {@code lora_alpha: 32}), else a float. */
    private static void putNumber(ObjectNode o, String key, double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) o.put(key, (long) v);
        else o.put(key, v);
    }

    private static JsonNode modulesOrNull(TargetModules t) {
        return t == null ? F.nullNode() : targets(t);
    }

    private static JsonNode intsOrNull(List<Integer> xs) {
        if (xs == null) return F.nullNode();
        ArrayNode a = F.arrayNode();
        xs.forEach(a::add);
        return a;
    }

    private static JsonNode stringsOrNull(List<String> xs) {
        if (xs == null) return F.nullNode();
        ArrayNode a = F.arrayNode();
        xs.forEach(a::add);
        return a;
    }

    private static JsonNode targets(TargetModules t) {
        if (t.pattern() != null) return F.textNode(t.pattern());
        ArrayNode a = F.arrayNode();
        t.names().forEach(a::add);
        return a;
    }

    /**
     * @param fileTargets module paths the weights file holds: the targets when the config names none
     * @param warnings    receives what PEFT would warn about
     */
    static Parsed fromJson(Path file, JsonNode root, Set<String> fileTargets, List<String> warnings) {
        if (root == null || !root.isObject()) throw new PeftAdapterException(file, null, "not a JSON object");
        JsonNode typeNode = root.get("peft_type");
        if (typeNode == null || !typeNode.isTextual())
            throw new PeftAdapterException(file, "peft_type", "missing; an adapter config names its peft_type (OFT or LORA)");
        String type = typeNode.asText();
        String version = text(file, root, "peft_version");
        String baseModel = text(file, root, "base_model_name_or_path");
        refuseSet(file, root, "modules_to_save", "extra trainable modules are not supported");
        String bias = text(file, root, "bias");
        if (bias != null && !bias.equals("none"))
            throw new PeftAdapterException(file, "bias", "'" + bias + "' is not supported (only \"none\": adapters here never train biases)");
        if (bool(file, root, "fan_in_fan_out", false))
            throw new PeftAdapterException(file, "fan_in_fan_out", "true is not supported (Llama-family linear layers store [out, in])");
        TargetModules targets = targetModules(file, root.get("target_modules"), "target_modules");
        boolean targetsFromFile = targets == null;
        if (targetsFromFile) {
            warnings.add(file + ": no target_modules; targeting the " + fileTargets.size() + " modules the weights file holds");
            targets = new TargetModules(new ArrayList<>(fileTargets), null);
        }
        TargetModules exclude = targetModules(file, root.get("exclude_modules"), "exclude_modules");
        List<Integer> layers = layerIndices(file, root.get("layers_to_transform"));
        List<String> patterns = layerPatterns(file, root.get("layers_pattern"));
        TargetFilter filter;
        try {
            filter = new TargetFilter(exclude, layers, patterns);
        } catch (IllegalArgumentException e) {
            throw new PeftAdapterException(file, "layers_pattern", e.getMessage(), e);
        }

        AdapterConfig config;
        switch (type) {
            case "OFT" -> {
                // PEFT's OFTConfig.check_kwargs: configs from before the 0.14 rewrite have no oft_block_size
                if (!root.has("oft_block_size"))
                    throw new PeftAdapterException(file, "oft_block_size", "missing: this OFT adapter predates PEFT 0.14, whose OFT "
                            + "parameterization is incompatible; retrain it with PEFT >= 0.18 (or load it with PEFT 0.13)");
                int r = integer(file, root, "r", 0);
                int b = integer(file, root, "oft_block_size", 0);
                if (r < 0 || b < 0 || (r == 0) == (b == 0))
                    throw new PeftAdapterException(file, "oft_block_size", "exactly one of r (" + r + ") and oft_block_size (" + b
                            + ") must be non-zero");
                boolean neumann = bool(file, root, "use_cayley_neumann", true);
                int terms = integer(file, root, "num_cayley_neumann_terms", OftConfig.DEFAULT_NEUMANN_TERMS);
                if (terms < 1 || terms > OftConfig.MAX_NEUMANN_TERMS)
                    throw new PeftAdapterException(file, "num_cayley_neumann_terms", terms + " is outside 1.." + OftConfig.MAX_NEUMANN_TERMS);
                double eps = number(file, root, "eps", OftConfig.DEFAULT_EPS);
                if (!(eps > 0) || Double.isInfinite(eps)) throw new PeftAdapterException(file, "eps", eps + " is not a positive number");
                double moduleDropout = number(file, root, "module_dropout", 0.0);
                if (!(moduleDropout >= 0 && moduleDropout < 1))
                    throw new PeftAdapterException(file, "module_dropout", moduleDropout + " is outside [0, 1)");
                if (neumann && olderThan(version, 0, 18))
                    warnings.add(file + ": peft_version " + (version == null ? "(absent)" : version) + " is older than 0.18.0, which "
                            + "changed the Cayley-Neumann formula; this adapter is evaluated with the 0.18 formula and its "
                            + "outputs will differ from the PEFT version that trained it. Retrain, or load it with that PEFT version.");
                config = new OftConfig(r, b, terms, neumann, CayleyConvention.NEUMANN_CONSISTENT, bool(file, root, "block_share", false),
                        bool(file, root, "coft", false), eps, bool(file, root, "init_weights", true), targets, moduleDropout, filter);
            }
            case "LORA" -> {
                if (bool(file, root, "use_dora", false))
                    throw new PeftAdapterException(file, "use_dora", "DoRA adapters are not supported");
                if (bool(file, root, "lora_bias", false))
                    throw new PeftAdapterException(file, "lora_bias", "LoRA bias terms are not supported");
                Map<String, Integer> ranks = new LinkedHashMap<>();
                pattern(file, root, "rank_pattern").forEach((k, v) -> {
                    if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() <= 0)
                        throw new PeftAdapterException(file, "rank_pattern", "'" + k + "' maps to " + v + ", expected a positive integer rank");
                    ranks.put(k, v.asInt());
                });
                Map<String, Double> alphas = new LinkedHashMap<>();
                pattern(file, root, "alpha_pattern").forEach((k, v) -> {
                    if (!v.isNumber()) throw new PeftAdapterException(file, "alpha_pattern", "'" + k + "' maps to " + v + ", expected a number");
                    alphas.put(k, v.asDouble());
                });
                int r = integer(file, root, "r", 8);
                if (r <= 0) throw new PeftAdapterException(file, "r", "LoRA rank must be positive, got " + r);
                double dropout = number(file, root, "lora_dropout", 0.0);
                if (!(dropout >= 0 && dropout < 1)) throw new PeftAdapterException(file, "lora_dropout", dropout + " is outside [0, 1)");
                try {
                    config = new LoraConfig(r, number(file, root, "lora_alpha", 8), dropout, bool(file, root, "use_rslora", false), targets, ranks, alphas,
                            filter);
                } catch (IllegalArgumentException e) {
                    throw new PeftAdapterException(file, null, e.getMessage(), e);
                }
            }
            default -> throw new PeftAdapterException(file, "peft_type", "unknown peft_type '" + type + "' (supported: OFT, LORA)");
        }
        return new Parsed(config, version, baseModel, targetsFromFile);
    }

    /** True when {@code version} (e.g. "0.17.1", "0.18.0.dev0") is before major.minor, or absent or unreadable. */
    static boolean olderThan(String version, int major, int minor) {
        if (version == null) return true;
        Matcher m = Pattern.compile("^(\\d+)\\.(\\d+)").matcher(version.trim());
        if (!m.find()) return true;
        int a = Integer.parseInt(m.group(1)), b = Integer.parseInt(m.group(2));
        return a < major || (a == major && b < minor);
    }

    private static TargetModules targetModules(Path file, JsonNode n, String field) {
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) {
            try {
                return TargetModules.regex(n.asText());
            } catch (RuntimeException e) {
                throw new PeftAdapterException(file, field, "not a valid regular expression: " + e.getMessage(), e);
            }
        }
        if (!n.isArray()) throw new PeftAdapterException(file, field, "expected a list of module names or a pattern, got " + n.getNodeType());
        List<String> names = new ArrayList<>();
        for (JsonNode e : n) {
            if (!e.isTextual()) throw new PeftAdapterException(file, field, "expected module names, got " + e);
            names.add(e.asText());
        }
        return new TargetModules(names, null);
    }

    /** A {@code {"regex": value}} object (PEFT's rank_pattern / alpha_pattern), in file order; empty when absent. */
    private static Map<String, JsonNode> pattern(Path file, JsonNode root, String field) {
        JsonNode n = root.get(field);
        Map<String, JsonNode> out = new LinkedHashMap<>();
        if (n == null || n.isNull()) return out;
        if (!n.isObject()) throw new PeftAdapterException(file, field, "expected an object of module-name pattern -> value, got " + n);
        n.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }

    private static List<Integer> layerIndices(Path file, JsonNode n) {
        if (n == null || n.isNull()) return null;
        List<Integer> out = new ArrayList<>();
        if (n.isInt()) out.add(n.asInt());
        else if (n.isArray()) {
            for (JsonNode e : n) {
                if (!e.isInt()) throw new PeftAdapterException(file, "layers_to_transform", "expected layer indices, got " + e);
                out.add(e.asInt());
            }
        } else throw new PeftAdapterException(file, "layers_to_transform", "expected an index or a list of indices, got " + n);
        return out;
    }

    private static List<String> layerPatterns(Path file, JsonNode n) {
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) return List.of(n.asText());
        if (n.isArray()) {
            List<String> out = new ArrayList<>();
            for (JsonNode e : n) out.add(e.asText());
            return out;
        }
        throw new PeftAdapterException(file, "layers_pattern", "expected a name or a list of names, got " + n);
    }

    private static void refuseSet(Path file, JsonNode root, String field, String why) {
        JsonNode n = root.get(field);
        if (n != null && !n.isNull() && !(n.isContainerNode() && n.isEmpty()))
            throw new PeftAdapterException(file, field, why + " (got " + n + ")");
    }

    private static String text(Path file, JsonNode root, String field) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) return null;
        if (!n.isTextual()) throw new PeftAdapterException(file, field, "expected a string, got " + n);
        return n.asText();
    }

    private static boolean bool(Path file, JsonNode root, String field, boolean dflt) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isBoolean()) throw new PeftAdapterException(file, field, "expected true or false, got " + n);
        return n.asBoolean();
    }

    private static int integer(Path file, JsonNode root, String field, int dflt) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isIntegralNumber() || !n.canConvertToInt()) throw new PeftAdapterException(file, field, "expected an integer, got " + n);
        return n.asInt();
    }

    private static double number(Path file, JsonNode root, String field, double dflt) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isNumber()) throw new PeftAdapterException(file, field, "expected a number, got " + n);
        return n.asDouble();
    }
}
