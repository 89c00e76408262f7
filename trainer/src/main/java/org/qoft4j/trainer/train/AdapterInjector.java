package org.qoft4j.trainer.train;

import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Device;
import org.qoft4j.oft.AdapterConfig;
import org.qoft4j.oft.AdapterLayer;
import org.qoft4j.oft.LoraConfig;
import org.qoft4j.oft.LoraLayer;
import org.qoft4j.oft.OftConfig;
import org.qoft4j.oft.OftLayer;
import org.qoft4j.oft.OftV1Layer;
import org.qoft4j.quant.linear.LinearLayer;
import org.qoft4j.trainer.model.LlamaModel;
import org.qoft4j.trainer.model.Projection;

/**
 * Wraps the target projections of a model with adapters: OFTv2 ({@link OftLayer}, QOFT on a 4-bit base) or
 * {@link LoraLayer} (QLoRA on a 4-bit base), or for comparisons the weight-centric OFT v1 ({@link OftV1Layer}). Targets are matched against Hugging Face module paths
 * ({@code model.layers.0.self_attn.q_proj}); the default is every linear layer of attention and MLP.
 * Adapter parameters are float32 on the model's device whatever the compute dtype.
 */
public final class AdapterInjector {
    private AdapterInjector() {}

    /**
     * @param seed LoRA's A matrices are drawn from it (one derived seed per layer, in module order); OFT starts at
     *             R = I and uses no randomness
     */
    public static Adapters inject(LlamaModel model, AdapterConfig config, long seed) {
        return inject(model, config, seed, false);
    }

    /** As {@link #inject(LlamaModel, AdapterConfig, long)}; {@code oftV1}: an {@link OftConfig} makes {@link OftV1Layer}s. */
    public static Adapters inject(LlamaModel model, AdapterConfig config, long seed, boolean oftV1) {
        if (oftV1 && !(config instanceof OftConfig)) throw new ConfigException("OFT v1 needs an OFT configuration, got " + config.peftType());
        Map<String, AdapterLayer> layers = new LinkedHashMap<>();
        try {
            int i = 0;
            for (Projection p : model.projections().values()) {
                if (!config.targetModules().matches(p.path())) continue;
                long layerSeed = seed * 1_000_003L + i++;
                layers.put(p.path(), p.attach(create(p.base(), config, oftV1, p.path(), layerSeed, model.device())));
            }
        } catch (RuntimeException e) {
            Adapters.remove(model, layers);
            throw e;
        }
        if (layers.isEmpty())
            throw new ConfigException("target modules " + config.targetModules() + " match none of the model's projections (e.g. "
                    + model.projections().keySet().iterator().next() + ")");
        return new Adapters(model, config, layers);
    }

    private static AdapterLayer create(LinearLayer base, AdapterConfig config, boolean oftV1, String path, long seed, Device device) {
        if (config instanceof OftConfig oft) return oftV1 ? new OftV1Layer(base, oft, path, seed, device) : new OftLayer(base, oft, path, seed, device);
        return new LoraLayer(base, (LoraConfig) config, seed, device);
    }
}
