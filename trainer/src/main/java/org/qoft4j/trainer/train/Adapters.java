package org.qoft4j.trainer.train;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.oft.AdapterConfig;
import org.qoft4j.oft.AdapterLayer;
import org.qoft4j.oft.OrthogonalityDiagnostics;
import org.qoft4j.oft.peft.PeftAdapterIO;
import org.qoft4j.trainer.model.LlamaModel;

/**
 * The adapters injected into one model, by module path: their trainable tensors, their size, saving and loading
 * them in PEFT's layout. {@link #close()} puts the base layers back and frees the adapters.
 */
public final class Adapters implements AutoCloseable {
    private final LlamaModel model;
    private final AdapterConfig config;
    private final Map<String, AdapterLayer> layers;

    Adapters(LlamaModel model, AdapterConfig config, Map<String, AdapterLayer> layers) {
        this.model = model;
        this.config = config;
        this.layers = Collections.unmodifiableMap(layers);
    }

    public AdapterConfig config() {
        return config;
    }

    /** Module path -> adapter, in the model's order. */
    public Map<String, AdapterLayer> layers() {
        return layers;
    }

    /** Every trainable tensor, in module order (the optimizer's parameter order). */
    public List<Tensor> parameters() {
        List<Tensor> ps = new ArrayList<>();
        for (AdapterLayer a : layers.values()) ps.addAll(a.parameters());
        return ps;
    }

    public long trainableParameters() {
        long n = 0;
        for (AdapterLayer a : layers.values()) n += a.trainableParameterCount();
        return n;
    }

    /** Bytes of the adapter tensors (float32), i.e. the size of adapter_model.safetensors without its header. */
    public long bytes() {
        long n = 0;
        for (Tensor p : parameters()) n += p.nbytes();
        return n;
    }

    /** Training mode turns LoRA dropout on; evaluation and generation run with it off. */
    public void train(boolean on) {
        layers.values().forEach(a -> a.train(on));
    }

    /** The largest {@code max |R^T R - I|} over all OFT layers, or NaN for LoRA. */
    public double maxOrthogonalityError() {
        double worst = Double.NaN;
        for (OrthogonalityDiagnostics.LayerOrthogonality o : OrthogonalityDiagnostics.measure(layers))
            worst = Double.isNaN(worst) ? o.maxOrthogonalityError() : Math.max(worst, o.maxOrthogonalityError());
        return worst;
    }

    /** Writes adapter_config.json + adapter_model.safetensors into {@code dir}. */
    public void save(Path dir, String baseModel) {
        PeftAdapterIO.write(dir, layers, baseModel);
    }

    /** Loads values saved by {@link #save} into these adapters (same modules and configuration). */
    public void load(Path dir) {
        PeftAdapterIO.load(dir, layers);
    }

    @Override
    public void close() {
        remove(model, layers);
    }

    static void remove(LlamaModel model, Map<String, AdapterLayer> layers) {
        for (Map.Entry<String, AdapterLayer> e : layers.entrySet()) {
            model.projection(e.getKey()).restore();
            e.getValue().close();
        }
    }
}
