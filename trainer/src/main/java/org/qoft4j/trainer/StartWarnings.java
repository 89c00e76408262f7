package org.qoft4j.trainer;

import java.util.List;
import org.qoft4j.data.Sample;
import org.qoft4j.model.LlamaConfig;

/** Settings that work but are probably not what the user meant, said once when training starts. */
final class StartWarnings {
    private StartWarnings() {}

    /**
     * {@code seq-len} beyond the model's {@code max_position_embeddings}: rows that long put positions on tokens the
     * model was never trained at (with packing, positions restart per sample, so only samples that long do).
     * Null when seq-len fits.
     */
    static String positions(TrainConfig config, LlamaConfig model, List<Sample> train) {
        int max = model.maxPositionEmbeddings();
        if (config.seqLen() <= max) return null;
        long longer = train.stream().filter(s -> s.length() > max).count();
        return "seq-len " + config.seqLen() + " exceeds the model's max_position_embeddings " + max + ": " + longer + " of " + train.size()
                + " training samples are longer than " + max + " tokens and " + (longer == 0 ? "would get" : "get")
                + " positions the model was never trained at (lower seq-len to " + max + ", or check the model's config.json)";
    }
}
