package org.qoft4j.adapters;

/** The configuration of one kind of adapter: what a PEFT {@code adapter_config.json} describes. */
public sealed interface AdapterConfig permits OftConfig, LoraConfig {
    /** PEFT's {@code peft_type}: "OFT" or "LORA". */
    String peftType();

    TargetModules targetModules();

    /** {@code exclude_modules} and {@code layers_to_transform}. */
    TargetFilter filter();

    /** Whether PEFT puts an adapter on the module at {@code modulePath}: a target, not excluded, in a chosen layer. */
    default boolean targets(String modulePath) {
        return targetModules().matches(modulePath) && filter().admits(modulePath, targetModules());
    }
}
