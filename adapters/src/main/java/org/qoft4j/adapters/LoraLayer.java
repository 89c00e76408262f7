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
import org.qoft4j.quant.linear.LinearLayer;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * LoRA, the QLoRA baseline when the base is a 4-bit layer: {@code y = base(x) + scaling · dropout(x) A^T B^T}.
 * PEFT's defaults: A {@code [r, in]} Kaiming-uniform with a = sqrt(5) (as {@code nn.Linear}: uniform in
 * ±1/sqrt(in)), B {@code [out, r]} zeros, so a new adapter leaves the base output unchanged.
 *
 * <p>Dtypes follow PEFT's {@code lora.Linear.forward}: the base runs in x's dtype; the adapter path casts x to
 * float32; the sum is formed in float32 and cast back to x's dtype. Dropout uses libtorch's global generator
 * ({@code torch.manual_seed}), in training mode only.
 */
public final class LoraLayer implements AdapterLayer {
    public static final String A_KEY = "lora_A.weight";
    public static final String B_KEY = "lora_B.weight";

    private final LinearLayer base;
    private final LoraConfig config;
    private final int rank;        // this module's r (rank_pattern or the config's r)
    private final double scaling;  // this module's alpha / r (or / sqrt(r))
    private final Tensor a; // [r, in]
    private final Tensor b; // [out, r]
    private boolean training = true;

    public LoraLayer(LinearLayer base, LoraConfig config) {
        this(base, config, 0L, null);
    }

    /**
     * @param seed   A's initial values are drawn on the CPU from a libtorch generator seeded with it (device-independent)
     * @param device where the parameters live; null: CPU
     */
    public LoraLayer(LinearLayer base, LoraConfig config, long seed, Device device) {
        this(base, config, null, seed, device);
    }

    /**
     * @param modulePath picks this module's rank and alpha from the config's rank_pattern / alpha_pattern; null: the
     *                   config's r and alpha
     */
    public LoraLayer(LinearLayer base, LoraConfig config, String modulePath, long seed, Device device) {
        this.base = base;
        this.config = config;
        this.rank = config.rankFor(modulePath);
        this.scaling = config.scalingFor(modulePath);
        long in = base.inFeatures(), out = base.outFeatures();
        double bound = 1.0 / Math.sqrt(in); // kaiming_uniform_(a = sqrt(5)): gain sqrt(1/3) * sqrt(3 / fan_in)
        Generator g = torch.make_generator_cpu(seed);
        Tensor initA = torch.empty(new long[] {rank, in}, new TensorOptions(ScalarType.Float), null)
                .uniform_(-bound, bound, new GeneratorOptional(g));
        Tensor initB = torch.zeros(new long[] {out, rank}, new TensorOptions(ScalarType.Float));
        if (device != null && !device.is_cpu()) {
            initA = initA.to(device, ScalarType.Float);
            initB = initB.to(device, ScalarType.Float);
        }
        this.a = initA.detach().set_requires_grad(true).retainReference();
        this.b = initB.detach().set_requires_grad(true).retainReference();
    }

    public LoraConfig config() {
        return config;
    }

    /** This module's rank. */
    public int rank() {
        return rank;
    }

    /** This module's factor in front of {@code B A}. */
    public double scaling() {
        return scaling;
    }

    /** {@code [r, in]}. */
    public Tensor a() {
        return a;
    }

    /** {@code [out, r]}. */
    public Tensor b() {
        return b;
    }

    @Override
    public Tensor forward(Tensor x) {
        if (x.dim() < 1 || x.size(-1) != base.inFeatures())
            throw new IllegalArgumentException("input has " + (x.dim() < 1 ? 0 : x.size(-1)) + " features, layer expects "
                    + base.inFeatures());
        ScalarType dt = x.scalar_type().intern(); // JavaCPP returns fresh enum objects: intern() before ==
        Tensor result = base.forward(x);
        Tensor xf = dt == ScalarType.Float ? x : x.to(ScalarType.Float);
        if (training && config.dropout() > 0) xf = torch.dropout(xf, config.dropout(), true);
        Tensor delta = torch.matmul(torch.matmul(xf, a.t()), b.t()).mul(new Scalar(scaling));
        Tensor y = result.add(delta); // promotes to float32 when x is bf16/fp16
        return y.scalar_type().intern() == dt ? y : y.to(dt);
    }

    @Override
    public List<Tensor> parameters() {
        return List.of(a, b);
    }

    @Override
    public LinearLayer base() {
        return base;
    }

    @Override
    public Map<String, Tensor> stateDict() {
        return Map.of(A_KEY, a, B_KEY, b);
    }

    @Override
    public void loadStateDict(Map<String, Tensor> values) {
        if (!values.keySet().equals(Set.of(A_KEY, B_KEY)))
            throw new IllegalArgumentException("a LoRA layer needs exactly " + A_KEY + " and " + B_KEY + ", got " + values.keySet());
        for (Map.Entry<String, Tensor> e : stateDict().entrySet()) {
            Tensor v = values.get(e.getKey());
            if (!Arrays.equals(Tensors.shape(v), Tensors.shape(e.getValue())))
                throw new IllegalArgumentException(e.getKey() + ": shape " + Arrays.toString(Tensors.shape(v))
                        + " does not match the layer's " + Arrays.toString(Tensors.shape(e.getValue()))
                        + " (r = " + rank + ", in " + base.inFeatures() + ", out " + base.outFeatures() + ")");
        }
        try (NoGradGuard g = new NoGradGuard()) {
            a.copy_(values.get(A_KEY));
            b.copy_(values.get(B_KEY));
        }
    }

    @Override
    public void train(boolean on) {
        training = on;
    }

    @Override
    public boolean isTraining() {
        return training;
    }

    @Override
    public void close() {
        a.releaseReference();
        b.releaseReference();
    }
}
