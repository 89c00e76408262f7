package org.qoft4j.adapters.peft;

import org.qoft4j.adapters.AdapterConfig;
import org.qoft4j.adapters.AdapterLayer;

import java.util.List;
import java.util.Map;

/**
 * An adapter read from a PEFT directory and attached to a model's layers.
 *
 * @param config              what adapter_config.json describes
 * @param layers              the adapted modules by module path (e.g. {@code model.layers.0.self_attn.q_proj})
 * @param peftVersion         the file's {@code peft_version}, or null when absent
 * @param baseModelNameOrPath the file's {@code base_model_name_or_path}, or null
 * @param warnings            what was logged while reading (old formula, ignored fields, skipped keys)
 */
public record PeftAdapter(AdapterConfig config, Map<String, AdapterLayer> layers, String peftVersion,
                          String baseModelNameOrPath, List<String> warnings) {}
