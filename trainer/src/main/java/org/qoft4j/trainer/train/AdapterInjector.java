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
import org.qoft4j.quant.linear.LinearLayer;
import org.qoft4j.trainer.model.LlamaModel;
import org.qoft4j.trainer.model.Projection;

/**
 * Wraps the target projections of a model with adapters: OFTv2 ({@link OftLayer}, QOFT on a 4-bit base) or
 * {@link LoraLayer} (QLoRA on a 4-bit base). Targets are matched against Hugging Face module paths
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
        Map<String, AdapterLayer> layers = new LinkedHashMap<>();
        try {
            int i = 0;
            for (Projection p : model.projections().values()) {
                if (!config.targetModules().matches(p.path())) continue;
                long layerSeed = seed * 1_000_003L + i++;
                layers.put(p.path(), p.attach(create(p.base(), config, p.path(), layerSeed, model.device())));
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

    private static AdapterLayer create(LinearLayer base, AdapterConfig config, String path, long seed, Device device) {
        if (config instanceof OftConfig oft) return new OftLayer(base, oft, path, seed, device);
        return new LoraLayer(base, (LoraConfig) config, seed, device);
    }
}
