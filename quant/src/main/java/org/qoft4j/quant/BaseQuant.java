package org.qoft4j.quant;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * How a model's frozen linear layers are stored once loaded: one of the 4-bit formats (with their default block or
 * group size), or {@link #NONE} for full precision. The one parser of {@code --quant} values.
 */
public enum BaseQuant {
    NONE(null), NF4(QuantType.NF4), FP4(QuantType.FP4), INT4(QuantType.INT4);

    private final QuantType type;

    BaseQuant(QuantType type) {
        this.type = type;
    }

    @JsonCreator
    public static BaseQuant parse(String s) {
        String k = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        for (BaseQuant q : values()) if (q.key().equals(k)) return q;
        throw new IllegalArgumentException("quant must be nf4, fp4, int4 or none, got '" + s + "'");
    }

    @JsonValue
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The quantization applied on load, or null for {@link #NONE}. */
    public QuantSpec spec() {
        return type == null ? null : QuantSpec.of(type);
    }

    @Override
    public String toString() {
        return key();
    }
}
