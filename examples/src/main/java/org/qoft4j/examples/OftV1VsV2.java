package org.qoft4j.examples;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.CpuThreads;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.OftLayer;
import org.qoft4j.adapters.OftV1Layer;
import org.qoft4j.quant.linear.DenseLinear;
import org.qoft4j.cli.bench.OpTimer;

/**
 * OFT v1 vs OFTv2: the same adapter computed two ways.
 *
 * <p>Both rotate the frozen weight by a block-diagonal orthogonal R (Cayley transform of skew-symmetric blocks, here
 * b = 32). OFT v1 is weight-centric: it builds the dense d×d matrix R and the rotated weight W R^T, a matrix-matrix
 * product cubic in the width, every forward pass. OFTv2 is input-centric: it rotates the activations block by block
 * (x R^T, then the frozen layer), quadratic in the width. Same parameters, same outputs, very different cost. We check
 * the first two on one layer and time a training step (forward + backward) of each.
 *
 * <p>Run: {@code examples/run OftV1VsV2 [FEATURES] [TOKENS]} (defaults 1024 and 256; the benchmark target uses 2048
 * and 512: {@code ./qoft4j bench --cases oft-v1-vs-v2}, which also measures peak memory of whole training runs).
 */
public final class OftV1VsV2 {
    public static void main(String[] args) {
        int features = args.length > 0 ? Integer.parseInt(args[0]) : 1024;
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        CpuThreads.use(Runtime.getRuntime().availableProcessors());

        try (PointerScope scope = new PointerScope()) {
            // A frozen full-precision layer and a batch of activations.
            Generator g = torch.make_generator_cpu(7);
            TensorOptions f32 = new TensorOptions(ScalarType.Float);
            Tensor w = torch.randn(new long[] {features, features}, new GeneratorOptional(g), f32).mul(new Scalar(1.0 / Math.sqrt(features)));
            DenseLinear frozen = new DenseLinear(w, null);
            Tensor x = torch.randn(new long[] {tokens, features}, new GeneratorOptional(g), f32).set_requires_grad(true);
            Tensor upstream = torch.randn(new long[] {tokens, features}, new GeneratorOptional(g), f32);

            // The same configuration and seed give both layers the same parameters; non-zero init so that R is not the identity.
            OftConfig config = OftConfig.defaults().withBlockSize(32).withInitWeights(false);
            OftLayer v2 = new OftLayer(frozen, config, "example", 1, null);
            OftV1Layer v1 = new OftV1Layer(frozen, config, "example", 1, null);

            // 1. Same parameters: the packed upper triangles of the skew-symmetric blocks.
            System.out.printf("layer %d x %d, %d tokens, b = 32: trainable parameters v2 %,d, v1 %,d (frozen weight: %,d)%n", features, features,
                    tokens, count(v2), count(v1), (long) features * features);

            // 2. Same outputs, up to float rounding.
            double diff = v1.forward(x).sub(v2.forward(x)).abs().max().item_double();
            System.out.printf("max |y_v1 - y_v2| = %.2e%n", diff);

            // 3. Cost of a training step of the layer: forward, then backward to the rotation's parameters and the input.
            OpTimer.Samples t2 = OpTimer.sample(() -> step(v2, x, upstream), false, 2, 5, 1.0);
            OpTimer.Samples t1 = OpTimer.sample(() -> step(v1, x, upstream), false, 2, 5, 1.0);
            System.out.printf("forward + backward, median of %d / %d calls: OFTv2 %.1f ms, OFT v1 %.1f ms: v1 takes %.1fx as long%n", t2.calls(),
                    t1.calls(), 1e3 * t2.median(), 1e3 * t1.median(), t1.median() / t2.median());

            // What v1 builds on every call besides the output: R (d x d) and W R^T (d x d), plus their gradients.
            System.out.printf("OFT v1 materializes R and W R^T: 2 x %,d floats per call; OFTv2 rotates the %,d x %,d activations in place of that%n",
                    (long) features * features, tokens, features);
            v1.close();
            v2.close();
        }
    }

    private static long count(AdapterLayer a) {
        long n = 0;
        for (Tensor p : a.parameters()) n += p.numel();
        return n;
    }

    private static void step(AdapterLayer layer, Tensor x, Tensor upstream) {
        Tensor y = layer.forward(x);
        torch.backward(new TensorVector(y), new TensorVector(upstream), new BoolOptional(false), false, new TensorVector());
        x.grad().zero_();
        for (Tensor p : layer.parameters()) p.grad().zero_();
    }
}
