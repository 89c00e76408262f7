package org.qoft4j.model;

import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.DimnameListOptional;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Random weights for a config, generated tensor by tensor (so a random 4-bit model is built without a
 * full-precision copy): matrices uniform with standard deviation 0.02 (transformers' initializer range), norms 1,
 * biases 0. Each tensor depends only on the seed and its name.
 */
public final class RandomWeights implements TensorSource {
    private static final double STD = 0.02;

    private final Map<String, long[]> shapes;
    private final long seed;

    public RandomWeights(LlamaConfig c, long seed) {
        this.shapes = ModelLoader.expectedTensors(c);
        this.seed = seed;
    }

    @Override
    public String describe() {
        return "random weights (seed " + seed + ")";
    }

    @Override
    public Set<String> names() {
        return shapes.keySet();
    }

    @Override
    public long[] shape(String name) {
        return shape0(name).clone();
    }

    @Override
    public ScalarType dtype(String name) {
        shape0(name);
        return ScalarType.Float;
    }

    @Override
    public Tensor load(String name) {
        long[] s = shape0(name);
        TensorOptions f32 = new TensorOptions(ScalarType.Float);
        if (name.endsWith("norm.weight")) return torch.ones(s, f32);
        if (name.endsWith(".bias")) return torch.zeros(s, f32);
        // generated natively from a generator of its own: no Java copy, and libtorch's global RNG is left alone
        Generator g = torch.make_generator_cpu(seed * 0x9E3779B97F4A7C15L + name.hashCode());
        double a = STD * Math.sqrt(3); // uniform on [-a, a] has standard deviation STD
        return torch.rand(s, new GeneratorOptional(g), new DimnameListOptional(), f32).mul(new Scalar(2 * a)).sub(new Scalar(a));
    }

    private long[] shape0(String name) {
        long[] s = shapes.get(name);
        if (s == null) throw new ModelFormatException(describe() + ": no tensor '" + name + "'");
        return s;
    }
}
