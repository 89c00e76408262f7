package org.qoft4j.cli.compare;

import java.util.Arrays;
import java.util.Locale;

/**
 * One arm of a comparison: an adapter on a base. The 4-bit arms use the comparison's quantization type (NF4 by
 * default); the others keep the base in full precision (the compute dtype).
 */
public enum Variant {
    /** OFTv2 on a 4-bit base (b = 32, 5 Neumann terms by default). */
    QOFT("qoft", "QOFT", "oft", true),
    /** LoRA on a 4-bit base (r = 16, alpha = 32 by default). */
    QLORA("qlora", "QLoRA", "lora", true),
    /** OFTv2 on the full-precision base. */
    OFT("oft", "OFTv2", "oft", false),
    /** LoRA on the full-precision base. */
    LORA("lora", "LoRA", "lora", false),
    /** The original weight-centric OFT on the full-precision base: same parameters and outputs as OFTv2, cubic cost. */
    OFT_V1("oft-v1", "OFT v1", "oft-v1", false);

    private final String id;
    private final String label;
    private final String adapter;
    private final boolean quantized;

    Variant(String id, String label, String adapter, boolean quantized) {
        this.id = id;
        this.label = label;
        this.adapter = adapter;
        this.quantized = quantized;
    }

    /** Command-line name and directory name: qoft, qlora, oft, lora, oft-v1. */
    public String id() {
        return id;
    }

    public String label() {
        return label;
    }

    /** The trainer's {@code adapter} option. */
    public String adapter() {
        return adapter;
    }

    public boolean quantized() {
        return quantized;
    }

    public static Variant parse(String s) {
        String k = s.trim().toLowerCase(Locale.ROOT);
        for (Variant v : values()) if (v.id.equals(k)) return v;
        throw new IllegalArgumentException("unknown variant '" + s + "', expected one of "
                + Arrays.stream(values()).map(Variant::id).toList());
    }
}
