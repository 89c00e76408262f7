package org.qoft4j.adapters;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * How to build LoRA adapters (PEFT's {@code LoraConfig} fields that change the computation).
 *
 * @param r             rank
 * @param alpha         {@code lora_alpha}
 * @param dropout       {@code lora_dropout}, applied to the adapter's input in training mode only
 * @param useRslora     rank-stabilized scaling {@code alpha / sqrt(r)} instead of {@code alpha / r}
 * @param targetModules which modules a model wraps
 * @param rankPattern   {@code rank_pattern}: module-name regex -> rank for the modules it matches (first match in
 *                      order, as PEFT's {@code get_pattern_key}); empty for none
 * @param alphaPattern  {@code alpha_pattern}: module-name regex -> alpha, likewise
 * @param filter        {@code exclude_modules} and {@code layers_to_transform}
 */
public record LoraConfig(int r, double alpha, double dropout, boolean useRslora, TargetModules targetModules,
                         Map<String, Integer> rankPattern, Map<String, Double> alphaPattern, TargetFilter filter) implements AdapterConfig {
    public LoraConfig {
        if (r <= 0) throw new IllegalArgumentException("LoRA rank r must be positive, got " + r);
        if (!Double.isFinite(alpha)) throw new IllegalArgumentException("lora_alpha must be finite, got " + alpha);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("lora_dropout must be in [0, 1), got " + dropout);
        if (targetModules == null) throw new IllegalArgumentException("target modules are required");
        rankPattern = frozen(rankPattern, "rank_pattern");
        alphaPattern = frozen(alphaPattern, "alpha_pattern");
        rankPattern.forEach((k, v) -> {
            if (v == null || v <= 0) throw new IllegalArgumentException("rank_pattern['" + k + "'] must be a positive rank, got " + v);
        });
        alphaPattern.forEach((k, v) -> {
            if (v == null || !Double.isFinite(v)) throw new IllegalArgumentException("alpha_pattern['" + k + "'] must be a finite number, got " + v);
        });
        if (filter == null) filter = TargetFilter.NONE;
        // PEFT's LoraConfig.__post_init__ refuses layer selection with a string target_modules (all-linear included)
        if (filter.layers() != null && targetModules.pattern() != null)
            throw new IllegalArgumentException("layers_to_transform cannot be used when target_modules is a string ('" + targetModules.pattern()
                    + "'), as in PEFT; list the module names instead");
    }

    /** Without per-module patterns or module filter. */
    public LoraConfig(int r, double alpha, double dropout, boolean useRslora, TargetModules targetModules) {
        this(r, alpha, dropout, useRslora, targetModules, Map.of(), Map.of(), TargetFilter.NONE);
    }

    /** QLoRA's usual setting: r = 16, alpha = 16, dropout 0.05, all linear layers of a Llama block. */
    public static LoraConfig defaults() {
        return new LoraConfig(16, 16, 0.05, false, TargetModules.LLAMA_ALL_LINEAR);
    }

    public LoraConfig withDropout(double p) {
        return new LoraConfig(r, alpha, p, useRslora, targetModules, rankPattern, alphaPattern, filter);
    }

    public LoraConfig withTargetModules(TargetModules targets) {
        return new LoraConfig(r, alpha, dropout, useRslora, targets, rankPattern, alphaPattern, filter);
    }

    public LoraConfig withPatterns(Map<String, Integer> ranks, Map<String, Double> alphas) {
        return new LoraConfig(r, alpha, dropout, useRslora, targetModules, ranks, alphas, filter);
    }

    public LoraConfig withFilter(TargetFilter f) {
        return new LoraConfig(r, alpha, dropout, useRslora, targetModules, rankPattern, alphaPattern, f);
    }

    /** The factor in front of {@code B A}: {@code alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA. */
    public double scaling() {
        return scaling(r, alpha);
    }

    /** The rank of the module at {@code modulePath} (null: the default r): rank_pattern's first matching key, else r. */
    public int rankFor(String modulePath) {
        String key = patternKey(rankPattern, modulePath);
        return key == null ? r : rankPattern.get(key);
    }

    /** The alpha of the module at {@code modulePath}: alpha_pattern's first matching key, else alpha. */
    public double alphaFor(String modulePath) {
        String key = patternKey(alphaPattern, modulePath);
        return key == null ? alpha : alphaPattern.get(key);
    }

    /** The scaling of the module at {@code modulePath}, from its own rank and alpha. */
    public double scalingFor(String modulePath) {
        return scaling(rankFor(modulePath), alphaFor(modulePath));
    }

    private double scaling(int rank, double a) {
        return useRslora ? a / Math.sqrt(rank) : a / rank;
    }

    /** PEFT's {@code get_pattern_key}: the first key with {@code re.match(rf"(.*\.)?({key})$", path)}; null when none. */
    private static String patternKey(Map<String, ?> patterns, String path) {
        if (path == null) return null;
        for (String key : patterns.keySet())
            if (Pattern.compile("(.*\\.)?(" + key + ")").matcher(path).matches()) return key;
        return null;
    }

    private static <V> Map<String, V> frozen(Map<String, V> m, String what) {
        if (m == null || m.isEmpty()) return Map.of();
        for (String k : m.keySet()) {
            try {
                Pattern.compile(k);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(what + " key '" + k + "' is not a valid regular expression: " + e.getMessage(), e);
            }
        }
        return Collections.unmodifiableMap(new LinkedHashMap<>(m));
    }

    @Override
    public String peftType() {
        return "LORA";
    }
}
