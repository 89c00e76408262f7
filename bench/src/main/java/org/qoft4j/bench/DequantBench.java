package org.qoft4j.bench;

import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
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
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.linear.Quantizer;
import org.qoft4j.quant.kernel.Dequantizer;
import org.qoft4j.quant.kernel.Kernels;

/**
 * Reference (libtorch-ops) dequantization of a 2048x2048 NF4 weight into preallocated fp32 and bf16
 * buffers, beside a plain fp32 memory copy of the same output size as the bandwidth baseline.
 * GB/s written = rows * cols * bytes per element / time per op.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(1)
public class DequantBench {
    static final long N = 2048;

    @Param({"false", "true"})
    public boolean doubleQuant;

    /** libtorch intra-op threads; 0 = one per core (the default run). */
    @Param({"0"})
    public int torchThreads;

    private PointerScope scope;
    private QuantizedWeight weight;
    private Tensor outF32, outBf16, copySrc;
    private final Dequantizer reference = Kernels.reference();

    @Setup(Level.Trial)
    public void setUp() {
        CpuThreads.use(torchThreads > 0 ? torchThreads : Runtime.getRuntime().availableProcessors());
        scope = new PointerScope();
        torch.manual_seed(1);
        weight = Quantizer.quantize(torch.randn(N, N).to(ScalarType.BFloat16), QuantSpec.nf4().withDoubleQuant(doubleQuant));
        outF32 = torch.empty(new long[] {N, N}, new TensorOptions(ScalarType.Float), null);
        outBf16 = torch.empty(new long[] {N, N}, new TensorOptions(ScalarType.BFloat16), null);
        copySrc = torch.randn(N, N);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        weight.close();
        scope.close();
    }

    @Benchmark
    public void referenceToFp32() {
        try (PointerScope s = new PointerScope()) {
            reference.dequantize(weight, outF32);
        }
    }

    @Benchmark
    public void referenceToBf16() {
        try (PointerScope s = new PointerScope()) {
            reference.dequantize(weight, outBf16);
        }
    }

    /** Baseline: copy 16 MiB of fp32 (the fp32 output size) with libtorch. */
    @Benchmark
    public void memcpyFp32() {
        try (PointerScope s = new PointerScope()) {
            outF32.copy_(copySrc);
        }
    }
}
