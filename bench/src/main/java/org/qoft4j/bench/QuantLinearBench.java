package org.qoft4j.bench;

import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.qoft4j.core.CpuThreads;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.linear.DenseLinear;
import org.qoft4j.quant.linear.QuantizedLinear;

/**
 * y = x W^T at [512 x 2048] . [2048 x 2048]^T: the 4-bit (NF4, reference dequantization + matmul) layer
 * against the same matmul with a plain weight of the input's dtype, fp32 and bf16, under no-grad (inference and the
 * trainer's recomputation forward) and with grad (a fresh dequantized buffer per call).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(1)
public class QuantLinearBench {
    /** libtorch intra-op threads; 0 = one per core (the default run). */
    @Param({"0"})
    public int torchThreads;

    private PointerScope scope;
    private QuantizedLinear nf4;
    private DenseLinear dense, denseBf16Weight;
    private Tensor x32, xBf16;

    @Setup(Level.Trial)
    public void setUp() {
        CpuThreads.use(torchThreads > 0 ? torchThreads : Runtime.getRuntime().availableProcessors());
        scope = new PointerScope();
        torch.manual_seed(2);
        Tensor w = torch.randn(2048, 2048).mul(new org.bytedeco.pytorch.Scalar(0.02f));
        nf4 = QuantizedLinear.quantize(w.to(ScalarType.BFloat16), null, QuantSpec.nf4().withDoubleQuant(true));
        dense = new DenseLinear(w, null);
        denseBf16Weight = new DenseLinear(w.to(ScalarType.BFloat16), null);
        x32 = torch.randn(512, 2048);
        xBf16 = x32.to(ScalarType.BFloat16);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        nf4.close();
        QuantizedLinear.releaseWorkspace();
        scope.close();
    }

    private static void noGrad(Runnable r) {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            r.run();
        }
    }

    @Benchmark
    public void denseFp32() {
        noGrad(() -> dense.forward(x32));
    }

    @Benchmark
    public void nf4Fp32() {
        noGrad(() -> nf4.forward(x32));
    }

    @Benchmark
    public void nf4Fp32WithGrad() {
        try (PointerScope s = new PointerScope()) {
            nf4.forward(x32);
        }
    }

    @Benchmark
    public void denseBf16() {
        noGrad(() -> denseBf16Weight.forward(xBf16));
    }

    @Benchmark
    public void nf4Bf16() {
        noGrad(() -> nf4.forward(xBf16));
    }
}
