package org.qoft4j.adapters;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.Tensors;

import java.util.Arrays;

/**
 * One layer's trainable OFT parameter and the rotation built from it. The parameter is float32
 * {@code [rows, b(b-1)/2]} ({@code rows} = number of blocks, or 1 with block sharing), a leaf that requires grad;
 * {@link #blocks()} rebuilds {@code R [blocks, b, b]} from it on every call, so gradients flow to it.
 */
public final class OftRotation implements AutoCloseable {
    private OftConfig config; // replaced only by useNeumannTerms (neumann-terms: auto)
    private final BlockSizes.Layout layout;
    private final Tensor weight; // [rows, b(b-1)/2] float32
    private final Tensor index;  // [b*b] gather map of CayleyNeumann.skew, built once on the parameter's device

    /**
     * @param seed used only when {@code config.initWeights()} is false: normal(0, 0.1) drawn on the CPU from a libtorch
     *             generator seeded with it (so the values do not depend on the device), then moved to {@code device}
     */
    public OftRotation(long inFeatures, OftConfig config, String label, long seed, Device device) {
        this.config = config;
        this.layout = BlockSizes.resolve(inFeatures, config.r(), config.blockSize(), label);
        long[] shape = {config.blockShare() ? 1 : layout.blocks(), layout.valuesPerBlock()};
        Tensor init;
        if (config.initWeights()) {
            init = torch.zeros(shape, new TensorOptions(ScalarType.Float));
        } else {
            Generator g = torch.make_generator_cpu(seed);
            init = torch.randn(shape, new GeneratorOptional(g), new TensorOptions(ScalarType.Float)).mul(new Scalar(0.1));
        }
        if (device != null && !device.is_cpu()) init = init.to(device, ScalarType.Float);
        this.weight = init.detach().set_requires_grad(true).retainReference();
        this.index = CayleyNeumann.upperTriangleIndex(layout.blockSize(), weight).retainReference();
    }

    public OftConfig config() {
        return config;
    }

    /**
     * Computes R with {@code n} series terms from now on (the stored parameter is unchanged): how
     * {@code neumann-terms: auto} raises N between steps as ||Q|| grows. The config reports the new N, so saved
     * adapters record it.
     */
    public void useNeumannTerms(int n) {
        config = config.withNeumannTerms(n);
    }

    public BlockSizes.Layout layout() {
        return layout;
    }

    public int blockSize() {
        return layout.blockSize();
    }

    /** The trainable parameter {@code [rows, b(b-1)/2]} (PEFT's {@code oft_R.weight}). Owned by this object. */
    public Tensor weight() {
        return weight;
    }

    /**
     * {@code R [blocks, b, b]} from the current parameter, with autograd history. With COFT the parameter is first
     * projected in place (outside autograd), as PEFT does on every forward; with block sharing the single block is
     * expanded over all blocks without a copy.
     */
    public Tensor blocks() {
        return blocks(false);
    }

    /**
     * As {@link #blocks()}; in {@code training} with {@code module_dropout} p > 0 (and no block sharing),
     * {@code int(p * blocks)} blocks drawn by {@code randperm} from libtorch's global CPU generator are replaced by
     * the identity, as PEFT's {@code MultiplicativeDropoutLayer} does.
     */
    public Tensor blocks(boolean training) {
        if (config.coft()) projectCoft();
        Tensor r = CayleyNeumann.rotation(CayleyNeumann.skew(weight, index), config.neumannTerms(), config.useCayleyNeumann(),
                config.exactConvention());
        if (config.blockShare()) return r.expand(layout.blocks(), layout.blockSize(), layout.blockSize());
        return training && config.moduleDropout() > 0 ? dropBlocks(r, config.moduleDropout()) : r;
    }

    /** {@code R [D, b, b]} with {@code int(p * D)} random blocks set to I (a float mask {@code [D, 1, 1]}, differentiable in R). */
    static Tensor dropBlocks(Tensor r, double p) {
        long d = r.size(0);
        int drop = (int) (p * d);
        if (drop == 0) return r;
        float[] ones = new float[(int) d];
        java.util.Arrays.fill(ones, 0, drop, 1f);
        Tensor perm = torch.randperm(d, new TensorOptions(ScalarType.Long));        // CPU generator, as RngState replays it
        Tensor mask = Tensors.of(ones, d).index_select(0, perm).reshape(d, 1, 1);
        if (!r.device().is_cpu()) mask = mask.to(r.device(), ScalarType.Float);
        return r.mul(mask.neg().add(new Scalar(1.0))).add(CayleyNeumann.identity(r).mul(mask));
    }

    /** Blockwise {@code x R}: {@code x [..., r*b]} times {@code R [r, b, b]}, {@code x_i R_i} per block, as a batched matmul. */
    public static Tensor rotate(Tensor x, Tensor r) {
        long blocks = r.size(0), b = r.size(1);
        long tokens = x.numel() / (blocks * b);
        Tensor xb = x.reshape(tokens, blocks, b).transpose(0, 1); // [r, tokens, b]
        return torch.bmm(xb, r).transpose(0, 1).reshape(x.sizes());
    }

    /** Replaces the parameter's values (a copy, outside autograd); {@code values} must have the parameter's shape. */
    public void load(Tensor values, String what) {
        if (!Arrays.equals(Tensors.shape(values), Tensors.shape(weight)))
            throw new IllegalArgumentException(what + ": shape " + Arrays.toString(Tensors.shape(values))
                    + " does not match the layer's OFT parameter " + Arrays.toString(Tensors.shape(weight))
                    + " (block size " + layout.blockSize() + ", " + layout.blocks() + " blocks"
                    + (config.blockShare() ? ", shared" : "") + ")");
        try (NoGradGuard g = new NoGradGuard()) {
            weight.copy_(values);
        }
    }

    private void projectCoft() {
        try (NoGradGuard g = new NoGradGuard()) {
            weight.copy_(CayleyNeumann.coftProject(weight, config.eps()));
        }
    }

    @Override
    public void close() {
        weight.releaseReference();
        index.releaseReference();
    }
}
