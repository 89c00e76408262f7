package org.qoft4j.model;

import java.util.Set;

/**
 * How {@link Generator} picks tokens.
 *
 * @param maxNewTokens stop after this many new tokens
 * @param temperature  0 = greedy (argmax); otherwise logits are divided by it before sampling
 * @param topP         nucleus sampling: sample among the most likely tokens whose probabilities sum to at least this (1 = all)
 * @param seed         seeds the sampler; the same seed, model and prompt give the same tokens
 * @param stopTokens   generation ends after emitting one of these (EOS); may be empty
 */
public record GenerationConfig(int maxNewTokens, double temperature, double topP, long seed, Set<Long> stopTokens) {
    public GenerationConfig {
        if (maxNewTokens < 0) throw new IllegalArgumentException("max new tokens must be >= 0, got " + maxNewTokens);
        if (!(temperature >= 0) || Double.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        stopTokens = Set.copyOf(stopTokens);
    }

    public static GenerationConfig greedy(int maxNewTokens, Set<Long> stopTokens) {
        return new GenerationConfig(maxNewTokens, 0, 1, 0, stopTokens);
    }

    public boolean greedy() {
        return temperature == 0;
    }
}
