package org.qoft4j.gguf;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The {@code --type} of an export and its {@code general.file_type} (llama.cpp's {@code llama_ftype}). f32, f16, bf16
 * and q8_0 are what llama.cpp's converter writes; q4_0 and q4_k_m are what {@code llama-quantize} makes with those
 * names ({@link QuantRecipe} chooses each tensor's type the way it does).
 */
public enum GgufFileType {
    F32("f32", 0, GgmlType.F32),
    F16("f16", 1, GgmlType.F16),
    BF16("bf16", 32, GgmlType.BF16),
    Q8_0("q8_0", 7, GgmlType.Q8_0),
    Q4_0("q4_0", 2, GgmlType.Q4_0),
    Q4_K_M("q4_k_m", 15, GgmlType.Q4_K);

    private final String cliName;
    private final int ftype;
    private final GgmlType defaultType;

    GgufFileType(String cliName, int ftype, GgmlType defaultType) {
        this.cliName = cliName;
        this.ftype = ftype;
        this.defaultType = defaultType;
    }

    public String cliName() {
        return cliName;
    }

    /** {@code general.file_type}. */
    public int ftype() {
        return ftype;
    }

    /** The type of most matrices. */
    public GgmlType defaultType() {
        return defaultType;
    }

    /** True for the types made by llama-quantize's per-tensor recipe (q4_0, q4_k_m). */
    public boolean usesQuantizeRecipe() {
        return this == Q4_0 || this == Q4_K_M;
    }

    public static GgufFileType parse(String s) {
        for (GgufFileType t : values()) if (t.cliName.equals(s.trim().toLowerCase(Locale.ROOT))) return t;
        throw new IllegalArgumentException("unknown GGUF type '" + s + "': expected one of "
                + Arrays.stream(values()).map(GgufFileType::cliName).collect(Collectors.joining(", ")));
    }
}
