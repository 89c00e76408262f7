package org.qoft4j.adapters;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.quant.linear.LinearLayer;

import java.util.List;
import java.util.Map;
import java.util.Set;

/** What the two OFT forms share: the base layer and one {@link OftRotation}. They differ only in how they apply it. */
public abstract sealed class OftAdapter implements AdapterLayer permits OftLayer, OftV1Layer {
    /** PEFT's per-module key of the OFT parameter. */
    public static final String WEIGHT_KEY = "oft_R.weight";

    protected final LinearLayer base;
    protected final OftRotation rotation;
    private boolean training = true;

    /**
     * @param label  names the layer in log lines (e.g. its module path); null: its shape
     * @param seed   initial values when {@code config.initWeights()} is false (see {@link OftRotation})
     * @param device where the parameter lives; null: CPU
     */
    protected OftAdapter(LinearLayer base, OftConfig config, String label, long seed, Device device) {
        this.base = base;
        this.rotation = new OftRotation(base.inFeatures(), config,
                label == null ? "linear[" + base.inFeatures() + " -> " + base.outFeatures() + "]" : label, seed, device);
    }

    public OftRotation rotation() {
        return rotation;
    }

    public OftConfig config() {
        return rotation.config();
    }

    @Override
    public LinearLayer base() {
        return base;
    }

    @Override
    public List<Tensor> parameters() {
        return List.of(rotation.weight());
    }

    @Override
    public Map<String, Tensor> stateDict() {
        return Map.of(WEIGHT_KEY, rotation.weight());
    }

    @Override
    public void loadStateDict(Map<String, Tensor> values) {
        if (!values.keySet().equals(Set.of(WEIGHT_KEY)))
            throw new IllegalArgumentException("an OFT layer needs exactly " + WEIGHT_KEY + ", got " + values.keySet());
        rotation.load(values.get(WEIGHT_KEY), WEIGHT_KEY);
    }

    @Override
    public void train(boolean on) {
        training = on;
    }

    @Override
    public boolean isTraining() {
        return training;
    }

    protected void checkInput(Tensor x) {
        if (x.dim() < 1 || x.size(-1) != base.inFeatures())
            throw new IllegalArgumentException("input has " + (x.dim() < 1 ? 0 : x.size(-1)) + " features, layer expects "
                    + base.inFeatures());
    }

    @Override
    public void close() {
        rotation.close();
    }
}
