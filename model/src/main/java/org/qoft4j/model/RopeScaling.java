package org.qoft4j.model;

/**
 * config.json's {@code rope_scaling}: how RoPE frequencies are stretched for longer contexts.
 * {@code llama3}: Llama 3.1+'s piecewise rescaling of low and medium frequencies; {@code linear}: every
 * frequency divided by {@code factor} (position interpolation).
 *
 * @param type                          "llama3" or "linear"
 * @param factor                        how much longer the context is than the original
 * @param lowFreqFactor                 llama3 only
 * @param highFreqFactor                llama3 only
 * @param originalMaxPositionEmbeddings llama3 only: the context the frequencies were trained for
 */
public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings) {
    public RopeScaling {
        if (!type.equals("llama3") && !type.equals("linear"))
            throw new IllegalArgumentException("rope_scaling type '" + type + "' is not supported (supported: llama3, linear)");
        if (!(factor > 0)) throw new IllegalArgumentException("rope_scaling factor must be positive, got " + factor);
        if (type.equals("llama3") && (!(highFreqFactor > lowFreqFactor) || originalMaxPositionEmbeddings <= 0))
            throw new IllegalArgumentException("llama3 rope_scaling needs high_freq_factor > low_freq_factor and original_max_position_embeddings > 0");
    }

    public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings) {
        return new RopeScaling("llama3", factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings);
    }

    public static RopeScaling linear(double factor) {
        return new RopeScaling("linear", factor, 0, 0, 0);
    }

    /** The scaled inverse frequency for one unscaled {@code invFreq} (transformers' {@code _compute_llama3_parameters}). */
    double apply(double invFreq) {
        if (type.equals("linear")) return invFreq / factor;
        double lowFreqWavelen = originalMaxPositionEmbeddings / lowFreqFactor;
        double highFreqWavelen = originalMaxPositionEmbeddings / highFreqFactor;
        double wavelen = 2 * Math.PI / invFreq;
        if (wavelen > lowFreqWavelen) return invFreq / factor;  // long wavelengths: fully interpolated
        if (wavelen < highFreqWavelen) return invFreq;          // short wavelengths: unchanged
        double smooth = (originalMaxPositionEmbeddings / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        return (1 - smooth) * invFreq / factor + smooth * invFreq;
    }
}
