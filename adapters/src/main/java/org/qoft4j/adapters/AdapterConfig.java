package org.qoft4j.adapters;

/** The configuration of one kind of adapter: what a PEFT {@code adapter_config.json} describes. */
public sealed interface AdapterConfig permits OftConfig, LoraConfig {
    /** PEFT's {@code peft_type}: "OFT" or "LORA". */
    String peftType();

    TargetModules targetModules();
}
