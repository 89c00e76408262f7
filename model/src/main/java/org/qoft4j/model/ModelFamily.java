package org.qoft4j.model;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The Llama-family architectures one {@link LlamaModel} covers, with what differs between them. TinyLlama and
 * SmolLM are {@code llama}. Everything not listed here is a per-config value ({@link LlamaConfig}).
 */
public enum ModelFamily {
    /** Llama 2 / 3.x, TinyLlama, SmolLM: {@code attention_bias} puts a bias on q, k, v and o. */
    LLAMA("llama", "LlamaForCausalLM"),
    /** Mistral: no biases, optional sliding-window attention. */
    MISTRAL("mistral", "MistralForCausalLM"),
    /** Qwen2 / 2.5: q, k and v always carry a bias, o never does. */
    QWEN2("qwen2", "Qwen2ForCausalLM"),
    /** Qwen3: RMSNorm over each head of q and k before RoPE; explicit head_dim (default 128). */
    QWEN3("qwen3", "Qwen3ForCausalLM");

    private final String modelType;
    private final String architecture;

    ModelFamily(String modelType, String architecture) {
        this.modelType = modelType;
        this.architecture = architecture;
    }

    public String modelType() {
        return modelType;
    }

    public String architecture() {
        return architecture;
    }

    /**
     * The family of a config.json: by {@code model_type}, or by {@code architectures} when model_type is absent.
     *
     * @throws ModelFormatException naming the source and the supported families when neither is known
     */
    public static ModelFamily of(String modelType, List<String> architectures, String source) {
        for (ModelFamily f : values()) {
            if (modelType != null ? f.modelType.equals(modelType.toLowerCase(Locale.ROOT)) : architectures.contains(f.architecture))
                return f;
        }
        throw new ModelFormatException(source + ": unsupported architecture (model_type " + (modelType == null ? "absent" : "'" + modelType + "'")
                + ", architectures " + architectures + "); supported model types: "
                + Arrays.stream(values()).map(f -> f.modelType).collect(Collectors.joining(", ")));
    }
}
