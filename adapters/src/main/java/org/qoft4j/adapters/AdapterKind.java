package org.qoft4j.adapters;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * Which adapter a run trains: OFTv2 (QOFT on a 4-bit base), LoRA (QLoRA on a 4-bit base), or the original
 * weight-centric OFT v1 — same parameters and outputs as OFTv2, far costlier; for comparisons only.
 */
public enum AdapterKind {
    OFT("oft"), LORA("lora"), OFT_V1("oft-v1");

    private final String key;

    AdapterKind(String key) {
        this.key = key;
    }

    @JsonValue
    public String key() {
        return key;
    }

    @JsonCreator
    public static AdapterKind parse(String s) {
        String k = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        for (AdapterKind a : values()) if (a.key.equals(k)) return a;
        throw new IllegalArgumentException("adapter must be oft, lora or oft-v1, got '" + s + "'");
    }

    /** OFTv2 or OFT v1: the adapter is a rotation. */
    public boolean isOft() {
        return this != LORA;
    }

    @Override
    public String toString() {
        return key;
    }
}
