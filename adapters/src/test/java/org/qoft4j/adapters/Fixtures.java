package org.qoft4j.adapters;

import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.linear.DenseLinear;

import java.util.HashMap;
import java.util.Map;

/** Seeded random tensors and layers for the adapter tests. */
final class Fixtures {
    private Fixtures() {}

    static Tensor randn(long seed, ScalarType dtype, long... shape) {
        Generator g = torch.make_generator_cpu(seed);
        return torch.randn(shape, new GeneratorOptional(g), new TensorOptions(dtype));
    }

    static Tensor randn(long seed, long... shape) {
        return randn(seed, ScalarType.Float, shape);
    }

    /** A frozen fp32 layer with N(0, 1/in) weights and (optionally) a random bias. */
    static DenseLinear dense(long in, long out, boolean bias, long seed) {
        Tensor w = randn(seed, out, in).mul(new Scalar(1.0 / Math.sqrt(in)));
        return new DenseLinear(w, bias ? randn(seed + 1, out) : null);
    }

    /** Fills every parameter of {@code layer} with N(0, std^2) values (non-trivial adapters for comparisons). */
    static void randomize(AdapterLayer layer, double std, long seed) {
        Map<String, Tensor> values = new HashMap<>();
        long s = seed;
        for (Map.Entry<String, Tensor> e : layer.stateDict().entrySet())
            values.put(e.getKey(), randn(s++, e.getValue().sizes().vec().get()).mul(new Scalar(std)));
        layer.loadStateDict(values);
    }

    static double maxAbsDiff(Tensor a, Tensor b) {
        return a.to(ScalarType.Double).sub(b.to(ScalarType.Double)).abs().max().item_double();
    }
}
