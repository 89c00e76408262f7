package org.qoft4j.trainer.model;

import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.Tensors;

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
        long n = 1;
        for (long d : s) n *= d;
        float[] v = new float[Math.toIntExact(n)];
        if (name.endsWith("norm.weight")) java.util.Arrays.fill(v, 1f);
        else if (!name.endsWith(".bias")) {
            SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + name.hashCode());
            double a = STD * Math.sqrt(3); // uniform on [-a, a] has standard deviation STD
            for (int i = 0; i < v.length; i++) v[i] = (float) ((2 * r.nextDouble() - 1) * a);
        }
        return Tensors.of(v, s);
    }

    private long[] shape0(String name) {
        long[] s = shapes.get(name);
        if (s == null) throw new ModelFormatException(describe() + ": no tensor '" + name + "'");
        return s;
    }
}
