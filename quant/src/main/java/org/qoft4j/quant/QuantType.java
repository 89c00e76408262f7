package org.qoft4j.quant;

import java.util.Locale;

/** The 4-bit formats a frozen weight can be stored in. */
public enum QuantType {
    /** bitsandbytes normal-float 4 (QLoRA); blockwise absmax. */
    NF4,
    /** bitsandbytes 4-bit float (1 sign, 2 exponent, 1 mantissa bit); blockwise absmax. */
    FP4,
    /** Group-wise asymmetric round-to-nearest integers, packed as GPTQ checkpoints pack them. */
    INT4;

    /** Parses "nf4", "fp4", "int4" (any case); anything else is an {@link IllegalArgumentException} naming the choices. */
    public static QuantType parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown quantization type '" + s + "': expected nf4, fp4 or int4");
        }
    }

    public String lowerName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
