package org.qoft4j.quant.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;

/**
 * {@code config.json}'s {@code "quantization_config"}, in the two forms transformers reads:
 * <ul>
 *   <li>nf4/fp4: {@code quant_method "bitsandbytes"}, {@code load_in_4bit}, {@code bnb_4bit_quant_type},
 *       {@code bnb_4bit_use_double_quant}, {@code bnb_4bit_compute_dtype}, {@code bnb_4bit_quant_storage "uint8"},
 *       {@code llm_int8_skip_modules} (null: transformers keeps {@code lm_head} unquantized). The block size
 *       is not part of it: each layer's quant_state carries its own.</li>
 *   <li>int4: {@code quant_method "gptq"}, {@code bits 4}, {@code group_size}, {@code sym false},
 *       {@code desc_act false}, {@code checkpoint_format "gptq"} (zeros stored minus one).</li>
 * </ul>
 *
 * @param doubleQuant  nf4/fp4: bnb_4bit_use_double_quant
 * @param groupSize    int4: elements per group along in_features (-1: one group per row, GPTQ's spelling)
 * @param computeDtype nf4/fp4: bnb_4bit_compute_dtype ("bfloat16", "float16", "float32"); null for int4
 * @param skipModules  module names kept in full precision (substring match on the module path), or null
 */
public record QuantizationConfig(QuantType type, boolean doubleQuant, int groupSize, String computeDtype, List<String> skipModules) {
    public static final String KEY = "quantization_config";

    public QuantizationConfig {
        skipModules = skipModules == null ? null : List.copyOf(skipModules);
        if (type == QuantType.INT4 && doubleQuant) throw new IllegalArgumentException("double quantization applies to nf4/fp4 only");
        if (type == QuantType.INT4 && groupSize != -1 && groupSize <= 0)
            throw new IllegalArgumentException("GPTQ group_size must be positive or -1, got " + groupSize);
        if (type != QuantType.INT4 && computeDtype != null) BnbQuantState.torchDtype(computeDtype);
    }

    /** The config for weights quantized with {@code spec}. */
    public static QuantizationConfig of(QuantSpec spec, String computeDtype, List<String> skipModules) {
        return spec.type() == QuantType.INT4
                ? new QuantizationConfig(QuantType.INT4, false, spec.groupSize(), null, skipModules)
                : new QuantizationConfig(spec.type(), spec.doubleQuant(), 0, computeDtype, skipModules);
    }

    /** The JSON object, with keys as transformers writes them. */
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        if (type == QuantType.INT4) {
            o.put("quant_method", "gptq");
            o.put("bits", 4);
            o.put("group_size", groupSize);
            o.put("sym", false);
            o.put("desc_act", false);
            o.put("checkpoint_format", "gptq");
            if (skipModules != null) o.set("modules_to_not_convert", strings(skipModules));
            return o;
        }
        // BitsAndBytesConfig.to_dict(): keys sorted, private mirrors of load_in_4bit/8bit included.
        o.put("_load_in_4bit", true);
        o.put("_load_in_8bit", false);
        o.put("bnb_4bit_compute_dtype", computeDtype == null ? "float32" : computeDtype);
        o.put("bnb_4bit_quant_storage", "uint8");
        o.put("bnb_4bit_quant_type", type.lowerName());
        o.put("bnb_4bit_use_double_quant", doubleQuant);
        o.put("llm_int8_enable_fp32_cpu_offload", false);
        o.put("llm_int8_has_fp16_weight", false);
        if (skipModules == null) o.putNull("llm_int8_skip_modules");
        else o.set("llm_int8_skip_modules", strings(skipModules));
        o.put("llm_int8_threshold", 6.0);
        o.put("load_in_4bit", true);
        o.put("load_in_8bit", false);
        o.put("quant_method", "bitsandbytes");
        return o;
    }

    private static ArrayNode strings(List<String> l) {
        ArrayNode a = JsonNodeFactory.instance.arrayNode();
        l.forEach(a::add);
        return a;
    }

    /** The quantization_config of a whole config.json, or null when the model is not quantized. */
    public static QuantizationConfig fromModelConfig(JsonNode config) {
        JsonNode q = config == null ? null : config.get(KEY);
        return q == null || q.isNull() ? null : fromJson(q);
    }

    /** Reads either form; an {@link IllegalArgumentException} names the key that is missing, wrong or unsupported. */
    public static QuantizationConfig fromJson(JsonNode q) {
        if (!q.isObject()) throw new IllegalArgumentException(KEY + " must be an object");
        String method = q.path("quant_method").asText("");
        return switch (method) {
            case "bitsandbytes" -> bnb(q);
            case "gptq" -> gptq(q);
            default -> throw new IllegalArgumentException(KEY + ".quant_method '" + method + "' is not supported (bitsandbytes or gptq)");
        };
    }

    private static QuantizationConfig bnb(JsonNode q) {
        if (q.path("load_in_8bit").asBoolean(false)) throw new IllegalArgumentException("8-bit bitsandbytes checkpoints (load_in_8bit) are not supported");
        if (!q.path("load_in_4bit").asBoolean(false)) throw new IllegalArgumentException(KEY + ".load_in_4bit must be true");
        String qt = q.path("bnb_4bit_quant_type").asText("fp4");   // transformers' default
        QuantType type = switch (qt) {
            case "nf4" -> QuantType.NF4;
            case "fp4" -> QuantType.FP4;
            default -> throw new IllegalArgumentException(KEY + ".bnb_4bit_quant_type '" + qt + "' is not nf4 or fp4");
        };
        String storage = q.path("bnb_4bit_quant_storage").asText("uint8");
        if (!storage.equals("uint8"))
            throw new IllegalArgumentException(KEY + ".bnb_4bit_quant_storage '" + storage + "' is not supported (uint8 only)");
        JsonNode cd = q.get("bnb_4bit_compute_dtype");
        String compute = cd == null || cd.isNull() ? "float32" : cd.asText();
        return new QuantizationConfig(type, q.path("bnb_4bit_use_double_quant").asBoolean(false), 0, compute,
                stringList(q.get("llm_int8_skip_modules"), "llm_int8_skip_modules"));
    }

    private static QuantizationConfig gptq(JsonNode q) {
        if (q.path("bits").asInt(-1) != 4) throw new IllegalArgumentException(KEY + ".bits must be 4, found " + q.get("bits"));
        if (q.path("desc_act").asBoolean(false))
            throw new IllegalArgumentException("GPTQ act-order checkpoints (desc_act true) are not supported");
        String format = q.path("checkpoint_format").asText("gptq");
        if (!format.equals("gptq"))
            throw new IllegalArgumentException(KEY + ".checkpoint_format '" + format + "' is not supported (gptq only)");
        JsonNode g = q.get("group_size");
        if (g == null || !g.isIntegralNumber()) throw new IllegalArgumentException(KEY + ".group_size must be an integer, found " + g);
        return new QuantizationConfig(QuantType.INT4, false, g.intValue(), null, stringList(q.get("modules_to_not_convert"), "modules_to_not_convert"));
    }

    private static List<String> stringList(JsonNode n, String key) {
        if (n == null || n.isNull()) return null;
        if (!n.isArray()) throw new IllegalArgumentException(KEY + "." + key + " must be a list of module names or null");
        List<String> out = new ArrayList<>();
        for (JsonNode s : n) {
            if (!s.isTextual()) throw new IllegalArgumentException(KEY + "." + key + " must hold strings, found " + s);
            out.add(s.textValue());
        }
        return out;
    }

    /** Whether the module at {@code modulePath} (e.g. model.layers.0.mlp.down_proj) is kept in full precision. */
    public boolean skips(String modulePath) {
        if (skipModules == null) return modulePath.equals("lm_head") || modulePath.endsWith(".lm_head");
        for (String s : skipModules) if (modulePath.contains(s)) return true;
        return false;
    }
}
