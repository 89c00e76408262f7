package org.qoft4j.bench;

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
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.qoft4j.core.CpuThreads;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.adapters.LoraConfig;
import org.qoft4j.adapters.LoraLayer;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.OftLayer;
import org.qoft4j.adapters.OftV1Layer;
import org.qoft4j.adapters.TargetModules;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.linear.DenseLinear;
import org.qoft4j.quant.linear.LinearLayer;
import org.qoft4j.quant.linear.QuantizedLinear;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Forward + backward of one 2048x2048 layer on 512 tokens, block size 32, on a dense fp32 or an NF4 base: the bare
 * frozen layer, OFTv2 (input-centric, blockwise), OFT v1 (weight-centric, dense R and W R^T) and LoRA (r 16, alpha 32,
 * dropout 0.05: QLoRA on the NF4 base), side by side in one run.
 * The input requires grad, as inside a network, so every variant also computes dL/dx.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime) // per-call samples: the low percentiles stay meaningful on a shared, loaded machine
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class OftLayerBench {
    static final int FEATURES = 2048, TOKENS = 512, BLOCK = 32;

    /** The frozen layer: fp32 weights, or NF4 with double quantization (QLoRA's format) dequantized on the fly. */
    @Param({"dense", "nf4"})
    public String base;

    /** libtorch intra-op threads; 0: all processors. */
    @Param({"0"})
    public int threads;

    private LinearLayer frozen;
    private AdapterLayer v2, v1, lora;
    private Tensor x, upstream;

    @Setup(Level.Trial)
    public void setup() {
        CpuThreads.use(threads > 0 ? threads : Runtime.getRuntime().availableProcessors());
        try (PointerScope scope = new PointerScope()) {
            Generator g = torch.make_generator_cpu(1);
            TensorOptions f32 = new TensorOptions(ScalarType.Float);
            Tensor w = torch.randn(new long[] {FEATURES, FEATURES}, new GeneratorOptional(g), f32).mul(new Scalar(1.0 / Math.sqrt(FEATURES)));
            frozen = base.equals("nf4") ? QuantizedLinear.quantize(w, null, QuantSpec.nf4().withDoubleQuant(true)) : new DenseLinear(w, null);
            OftConfig cfg = OftConfig.defaults().withBlockSize(BLOCK).withInitWeights(false); // non-trivial R
            v2 = new OftLayer(frozen, cfg, "bench", 7, null);
            v1 = new OftV1Layer(frozen, cfg, "bench", 7, null);
            lora = new LoraLayer(frozen, new LoraConfig(16, 32, 0.05, false, TargetModules.LLAMA_ALL_LINEAR), 7, null);
            x = torch.randn(new long[] {TOKENS, FEATURES}, new GeneratorOptional(g), f32).set_requires_grad(true).retainReference();
            upstream = torch.randn(new long[] {TOKENS, FEATURES}, new GeneratorOptional(g), f32).retainReference();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        v1.close();
        v2.close();
        lora.close();
        x.releaseReference();
        upstream.releaseReference();
    }

    private double step(java.util.function.Function<Tensor, Tensor> forward, List<Tensor> params) {
        try (PointerScope scope = new PointerScope()) {
            Tensor y = forward.apply(x);
            torch.backward(new TensorVector(y), new TensorVector(upstream), new BoolOptional(false), false, new TensorVector());
            double sink = x.grad().data_ptr_float().get();
            x.grad().zero_();
            for (Tensor p : params) p.grad().zero_();
            return sink;
        }
    }

    @Benchmark
    public double bareFrozenLayer() {
        return step(frozen::forward, List.of());
    }

    @Benchmark
    public double oftV2() {
        return step(v2::forward, v2.parameters());
    }

    @Benchmark
    public double oftV1() {
        return step(v1::forward, v1.parameters());
    }

    @Benchmark
    public double lora() {
        return step(lora::forward, lora.parameters());
    }
}
