package org.qoft4j.model;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.adapters.AdapterConfig;
import org.qoft4j.adapters.AdapterKind;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.adapters.LoraConfig;
import org.qoft4j.adapters.LoraLayer;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.OftLayer;
import org.qoft4j.adapters.OftV1Layer;
import org.qoft4j.adapters.OftAdapter;
import org.qoft4j.adapters.OrthogonalityDiagnostics;
import org.qoft4j.adapters.TargetFilter;
import org.qoft4j.adapters.peft.PeftAdapter;
import org.qoft4j.adapters.peft.PeftAdapterIO;
import org.qoft4j.core.HostReads;

/**
 * The adapters attached to one model, by Hugging Face module path ({@code model.layers.0.self_attn.q_proj}): the
 * one way to put adapters on a model and take them off again, used by finetuning, evaluation, generation, merging
 * and comparisons. {@link #inject} creates fresh trainable adapters on the target projections; {@link #open} reads
 * a PEFT adapter directory onto them. {@link #close()} puts the base layers back and frees the adapters.
 * Adapter parameters are float32 on the model's device whatever the compute dtype. Matching no projection is an
 * error, never an adapter that silently does nothing.
 */
public final class AdapterSet implements AutoCloseable {
    private final LlamaModel model;
    private final AdapterConfig config;
    private final Map<String, AdapterLayer> layers;
    private final List<String> warnings;

    private AdapterSet(LlamaModel model, AdapterConfig config, Map<String, AdapterLayer> layers, List<String> warnings) {
        this.model = model;
        this.config = config;
        this.layers = Collections.unmodifiableMap(layers);
        this.warnings = List.copyOf(warnings);
    }

    /** New OFTv2 or LoRA adapters (as {@code config} is an OFT or LoRA configuration); see {@link #inject(LlamaModel, AdapterConfig, AdapterKind, long)}. */
    public static AdapterSet inject(LlamaModel model, AdapterConfig config, long seed) {
        return inject(model, config, config instanceof OftConfig ? AdapterKind.OFT : AdapterKind.LORA, seed);
    }

    /**
     * New adapters on every projection {@code config} targets, in training mode.
     *
     * @param kind OFT v1 needs an {@link OftConfig} and builds the weight-centric {@link OftV1Layer}s
     * @param seed LoRA's A matrices are drawn from it (one derived seed per layer, in module order); OFT starts at
     *             R = I and uses no randomness
     */
    public static AdapterSet inject(LlamaModel model, AdapterConfig config, AdapterKind kind, long seed) {
        if (kind.isOft() != (config instanceof OftConfig))
            throw new IllegalArgumentException("adapter " + kind + " needs " + (kind.isOft() ? "an OFT" : "a LoRA") + " configuration, got " + config.peftType());
        Map<String, AdapterLayer> layers = new LinkedHashMap<>();
        try {
            int i = 0;
            for (Projection p : model.projections().values()) {
                if (!config.targets(p.path())) continue;
                long layerSeed = seed * 1_000_003L + i++;
                AdapterLayer a = config instanceof OftConfig oft
                        ? kind == AdapterKind.OFT_V1 ? new OftV1Layer(p.base(), oft, p.path(), layerSeed, model.device())
                                : new OftLayer(p.base(), oft, p.path(), layerSeed, model.device())
                        : new LoraLayer(p.base(), (LoraConfig) config, p.path(), layerSeed, model.device());
                layers.put(p.path(), p.attach(a));
            }
        } catch (RuntimeException e) {
            detachAndClose(model, layers);
            throw e;
        }
        if (layers.isEmpty())
            throw new IllegalArgumentException("target modules " + config.targetModules() + (config.filter().equals(TargetFilter.NONE) ? "" : " " + config.filter())
                    + " match none of the model's projections (e.g. "
                    + model.projections().keySet().iterator().next() + ")");
        return new AdapterSet(model, config, layers, List.of());
    }

    /** The PEFT adapter in {@code dir} (OFT or LoRA) attached to {@code model}, in eval mode (no dropout). */
    public static AdapterSet open(LlamaModel model, Path dir) {
        PeftAdapter read = PeftAdapterIO.read(dir, model.baseLayers(), model.device());
        Map<String, AdapterLayer> layers = new LinkedHashMap<>(read.layers());
        if (layers.isEmpty())
            throw new IllegalArgumentException(dir + ": the adapter (target modules " + read.config().targetModules()
                    + ") matches none of the model's linear layers (e.g. " + model.projections().keySet().iterator().next() + ")");
        try {
            layers.forEach((path, a) -> model.projection(path).attach(a));
        } catch (RuntimeException e) {
            detachAndClose(model, layers);
            throw e;
        }
        AdapterSet s = new AdapterSet(model, read.config(), layers, read.warnings());
        s.train(false);
        return s;
    }

    /** The adapters' configuration (for OFT, with the Neumann terms in use now: see {@link #useNeumannTerms}). */
    public AdapterConfig config() {
        return layers.values().iterator().next() instanceof OftAdapter oft ? oft.config() : config;
    }

    /** Module path -> adapter, in the model's order. */
    public Map<String, AdapterLayer> layers() {
        return layers;
    }

    /** What reading the adapter directory warned about (empty for injected adapters). */
    public List<String> warnings() {
        return warnings;
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

    public boolean isTraining() {
        return layers.values().iterator().next().isTraining();
    }

    /** The largest {@code max |R^T R - I|} over all OFT layers (one host read), or NaN for LoRA. */
    public double maxOrthogonalityError() {
        Tensor t = maxOrthogonalityErrorOnDevice();
        return t == null ? Double.NaN : HostReads.scalar(t);
    }

    /** {@link #maxOrthogonalityError()} as a 0-dim tensor on the device, not read; null for LoRA. */
    public Tensor maxOrthogonalityErrorOnDevice() {
        return OrthogonalityDiagnostics.maxOrthogonalityError(layers);
    }

    /** Per OFT layer: {@code max |R^T R - I|} and the largest block's {@code ||Q||_F} (empty for LoRA). */
    public List<OrthogonalityDiagnostics.LayerOrthogonality> orthogonality() {
        return OrthogonalityDiagnostics.measure(layers);
    }

    /**
     * Every OFT layer computes R with {@code n} Cayley-Neumann terms from now on (neumann-terms: auto); the saved
     * adapter_config.json records the new N. No effect on LoRA layers or with the exact Cayley transform.
     */
    public void useNeumannTerms(int n) {
        for (AdapterLayer a : layers.values())
            if (a instanceof OftAdapter oft) oft.rotation().useNeumannTerms(n);
    }

    /** The Neumann terms the OFT layers use now, or 0 for LoRA. */
    public int neumannTerms() {
        for (AdapterLayer a : layers.values())
            if (a instanceof OftAdapter oft) return oft.config().neumannTerms();
        return 0;
    }

    /** Writes adapter_config.json + adapter_model.safetensors into {@code dir}. */
    public void save(Path dir, String baseModel) {
        PeftAdapterIO.write(dir, layers, baseModel);
    }

    /** Loads values saved by {@link #save} into these adapters (same modules and configuration). */
    public void load(Path dir) {
        PeftAdapterIO.load(dir, layers);
    }

    /** Takes the adapters off the model (its projections run their base layers again) and frees them. */
    @Override
    public void close() {
        detachAndClose(model, layers);
    }

    private static void detachAndClose(LlamaModel model, Map<String, AdapterLayer> layers) {
        for (Map.Entry<String, AdapterLayer> e : layers.entrySet()) {
            Projection p = model.projection(e.getKey());
            if (p.adapter() == e.getValue()) p.restore();
            e.getValue().close();
        }
    }
}
