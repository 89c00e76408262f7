package org.qoft4j.quant.hf;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Locale;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.QuantType;

/**
 * The {@code quant_state.bitsandbytes__nf4} (or {@code __fp4}) JSON that bitsandbytes stores beside each
 * 4-bit weight: {@code {"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [out, in],
 * "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.0318...}} — the nested fields
 * only with double quantization. {@link #toJson()} writes what Python's {@code json.dumps} writes, byte
 * for byte (key order, ", "/": " separators, floats as {@code repr}); {@link #parse} accepts any JSON
 * spelling of the same values.
 *
 * @param dtype  the weight's dtype before quantization, and the dequantized output dtype
 * @param nested the double-quantization parameters, or null
 */
public record BnbQuantState(QuantType quantType, int blocksize, ScalarType dtype, long rows, long cols, Nested nested) {
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /** @param offset the float32 mean that was subtracted from absmax before its 8-bit quantization */
    public record Nested(int blocksize, float offset) {}

    public BnbQuantState {
        if (quantType == QuantType.INT4) throw new IllegalArgumentException("a bitsandbytes quant_state holds nf4 or fp4, not int4");
        dtype = dtype.intern();
        pythonDtype(dtype);   // validates
    }

    public static BnbQuantState of(Bnb4bitWeight w) {
        return new BnbQuantState(w.type(), w.blocksize(), w.originalDtype(), w.rows(), w.cols(),
                w.nested() == null ? null : new Nested(w.nested().blocksize(), w.nested().offset()));
    }

    /** The key suffix under a layer's weight: {@code quant_state.bitsandbytes__nf4}. */
    public static String keySuffix(QuantType t) {
        return "quant_state.bitsandbytes__" + t.lowerName();
    }

    public long nblocks() {
        return (rows * cols + blocksize - 1) / blocksize;
    }

    /** As {@code json.dumps(dict)} prints it. */
    public String toJson() {
        StringBuilder s = new StringBuilder("{\"quant_type\": \"").append(quantType.lowerName())
                .append("\", \"blocksize\": ").append(blocksize)
                .append(", \"dtype\": \"").append(pythonDtype(dtype))
                .append("\", \"shape\": [").append(rows).append(", ").append(cols).append(']');
        if (nested != null) {
            s.append(", \"nested_blocksize\": ").append(nested.blocksize())
                    .append(", \"nested_dtype\": \"float32\", \"nested_offset\": ")
                    .append(PythonRepr.of(nested.offset()));   // float32 widened to double, as Python's .item() does
        }
        return s.append('}').toString();
    }

    /**
     * Reads a quant_state JSON; an {@link IllegalArgumentException} says which field is missing or wrong
     * (callers add the file and tensor).
     */
    public static BnbQuantState parse(String json) {
        JsonNode n;
        try {
            n = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("quant_state is not valid JSON: " + e.getOriginalMessage());
        }
        if (n == null || !n.isObject()) throw new IllegalArgumentException("quant_state must be a JSON object");
        String qt = text(n, "quant_type");
        QuantType type = switch (qt) {
            case "nf4" -> QuantType.NF4;
            case "fp4" -> QuantType.FP4;
            default -> throw new IllegalArgumentException("quant_state quant_type '" + qt + "' is not nf4 or fp4");
        };
        int blocksize = positiveInt(n, "blocksize");
        ScalarType dtype = torchDtype(text(n, "dtype"));
        JsonNode shape = n.get("shape");
        if (shape == null || !shape.isArray() || shape.size() != 2 || !shape.get(0).canConvertToLong() || !shape.get(1).canConvertToLong()
                || !shape.get(0).isIntegralNumber() || !shape.get(1).isIntegralNumber() || shape.get(0).longValue() <= 0 || shape.get(1).longValue() <= 0)
            throw new IllegalArgumentException("quant_state shape must be [out_features, in_features] (positive integers), found " + shape);
        Nested nested = null;
        boolean anyNested = n.has("nested_blocksize") || n.has("nested_offset") || n.has("nested_dtype");
        if (anyNested) {
            String nd = text(n, "nested_dtype");
            if (!nd.equals("float32")) throw new IllegalArgumentException("quant_state nested_dtype must be float32, found '" + nd + "'");
            JsonNode off = n.get("nested_offset");
            if (off == null || !off.isNumber() || !Double.isFinite(off.doubleValue()))
                throw new IllegalArgumentException("quant_state nested_offset must be a finite number, found " + off);
            nested = new Nested(positiveInt(n, "nested_blocksize"), (float) off.doubleValue());
        }
        return new BnbQuantState(type, blocksize, dtype, shape.get(0).longValue(), shape.get(1).longValue(), nested);
    }

    private static String text(JsonNode n, String key) {
        JsonNode v = n.get(key);
        if (v == null || !v.isTextual()) throw new IllegalArgumentException("quant_state " + key + " must be a string, found " + v);
        return v.textValue();
    }

    private static int positiveInt(JsonNode n, String key) {
        JsonNode v = n.get(key);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() <= 0)
            throw new IllegalArgumentException("quant_state " + key + " must be a positive integer, found " + v);
        return v.intValue();
    }

    /** torch's name for a float dtype, as {@code str(torch.bfloat16)} without the "torch." prefix. */
    public static String pythonDtype(ScalarType t) {
        ScalarType i = t.intern();
        if (i == ScalarType.BFloat16) return "bfloat16";
        if (i == ScalarType.Half) return "float16";
        if (i == ScalarType.Float) return "float32";
        throw new IllegalArgumentException("dtype " + t + " is not one of bfloat16, float16, float32");
    }

    /** The inverse of {@link #pythonDtype}; also accepts torch's aliases "half" and "float". */
    public static ScalarType torchDtype(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "bfloat16" -> ScalarType.BFloat16;
            case "float16", "half" -> ScalarType.Half;
            case "float32", "float" -> ScalarType.Float;
            default -> throw new IllegalArgumentException("dtype '" + name + "' is not one of bfloat16, float16, float32");
        };
    }
}
