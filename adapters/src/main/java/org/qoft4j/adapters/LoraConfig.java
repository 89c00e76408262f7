package org.qoft4j.adapters;

/**
 * How to build LoRA adapters (PEFT's {@code LoraConfig} fields that change the computation).
 *
 * @param r             rank
 * @param alpha         {@code lora_alpha}
 * @param dropout       {@code lora_dropout}, applied to the adapter's input in training mode only
 * @param useRslora     rank-stabilized scaling {@code alpha / sqrt(r)} instead of {@code alpha / r}
 * @param targetModules which modules a model wraps
 */
public record LoraConfig(int r, double alpha, double dropout, boolean useRslora, TargetModules targetModules) implements AdapterConfig {
    public LoraConfig {
        if (r <= 0) throw new IllegalArgumentException("LoRA rank r must be positive, got " + r);
        if (!Double.isFinite(alpha)) throw new IllegalArgumentException("lora_alpha must be finite, got " + alpha);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("lora_dropout must be in [0, 1), got " + dropout);
        if (targetModules == null) throw new IllegalArgumentException("target modules are required");
    }

    /** QLoRA's usual setting: r = 16, alpha = 16, dropout 0.05, all linear layers of a Llama block. */
    public static LoraConfig defaults() {
        return new LoraConfig(16, 16, 0.05, false, TargetModules.LLAMA_ALL_LINEAR);
    }

    public LoraConfig withDropout(double p) {
        return new LoraConfig(r, alpha, p, useRslora, targetModules);
    }

    public LoraConfig withTargetModules(TargetModules targets) {
        return new LoraConfig(r, alpha, dropout, useRslora, targets);
    }

    /** The factor in front of {@code B A}: {@code alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA. */
    public double scaling() {
        return useRslora ? alpha / Math.sqrt(r) : alpha / r;
    }

    @Override
    public String peftType() {
        return "LORA";
    }
}
