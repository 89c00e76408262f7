package org.qoft4j.bench;

import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
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
import org.qoft4j.nativekernels.NativeDequantizer;
import org.qoft4j.nativekernels.NativeLibrary;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.linear.Quantizer;
import org.qoft4j.quant.kernel.Kernels;
import org.qoft4j.quant.linear.QuantizedLinear;

/**
 * The native CPU kernels against the libtorch-ops reference and the bandwidth baseline, all in one run:
 * NF4 (blocksize 64) 2048x2048 dequantization into preallocated fp32 / bf16 buffers, a 16 MiB fp32
 * copy by {@code Tensor.copy_} and by memcpy on the kernels' threads (memory-copy baselines), and the
 * 4-bit linear forward [512x2048]·[2048x2048]^T (QuantizedLinear, which dequantizes through
 * {@code Kernels}) beside the same matmul with a dense weight.
 * Bytes moved by NF4 -> fp32: n/2 (codes) + 4n/64 (absmax) read + 4n written; by the copy: 4n read + 4n written.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(1)
public class NativeDequantBench {
    static final long N = 2048, TOKENS = 512;

    /** libtorch's and the native kernels' threads: 2 = the machine; 1 = stable when other jobs share the cores. */
    @Param({"2", "1"})
    public int threads;

    private PointerScope scope;
    private QuantizedWeight weight;
    private QuantizedLinear linear;
    private Tensor outF32, outBf16, copySrc, denseF32, denseBf16, xF32, xBf16;
    private final NativeDequantizer nativeKernel = new NativeDequantizer();

    @Setup(Level.Trial)
    public void setUp() {
        if (!NativeLibrary.isLoaded()) throw new IllegalStateException("native kernels not loaded: " + NativeLibrary.loadError());
        CpuThreads.use(threads);
        NativeLibrary.setThreads(threads);
        scope = new PointerScope();
        torch.manual_seed(1);
        Tensor w = torch.randn(N, N).mul(new org.bytedeco.pytorch.Scalar(0.02));
        weight = Quantizer.quantize(w.to(ScalarType.BFloat16), QuantSpec.nf4());
        linear = new QuantizedLinear(Quantizer.quantize(w.to(ScalarType.BFloat16), QuantSpec.nf4()), null);
        outF32 = torch.empty(new long[] {N, N}, new TensorOptions(ScalarType.Float), null);
        outBf16 = torch.empty(new long[] {N, N}, new TensorOptions(ScalarType.BFloat16), null);
        copySrc = torch.randn(N, N);
        denseF32 = w.contiguous();
        denseBf16 = w.to(ScalarType.BFloat16);
        xF32 = torch.randn(TOKENS, N);
        xBf16 = xF32.to(ScalarType.BFloat16);
        if (!Kernels.dequantizer().name().startsWith("native"))
            throw new IllegalStateException("Kernels picked " + Kernels.dequantizer().name() + ", not the native kernels");
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        weight.close();
        linear.close();
        QuantizedLinear.releaseWorkspace();
        scope.close();
    }

    @Benchmark
    public void dequantReferenceFp32() {
        try (PointerScope s = new PointerScope()) {
            Kernels.reference().dequantize(weight, outF32);
        }
    }

    @Benchmark
    public void dequantNativeFp32() {
        nativeKernel.dequantize(weight, outF32);
    }

    @Benchmark
    public void dequantNativeBf16() {
        nativeKernel.dequantize(weight, outBf16);
    }

    /** Memory-copy baseline: 16 MiB fp32 read + 16 MiB written, by libtorch (its OpenMP threads). */
    @Benchmark
    public void copyFp32() {
        outF32.copy_(copySrc);
    }

    /** The same copy as memcpy on the native kernels' thread pool (the threads the kernels use). */
    @Benchmark
    public void copyFp32Native() {
        NativeLibrary.copy(outF32, copySrc);
    }

    @Benchmark
    public void linearDenseFp32() {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            torch.matmul(xF32, denseF32.t());
        }
    }

    /** No grad (inference, the recomputation forward): dequantize into the layer's reused workspace, then matmul. */
    @Benchmark
    public void linearNf4Fp32() {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            linear.forward(xF32);
        }
    }

    /** Grad mode on: a fresh dequantized buffer per call (what autograd would keep for backward). */
    @Benchmark
    public void linearNf4Fp32GradMode() {
        try (PointerScope s = new PointerScope()) {
            linear.forward(xF32);
        }
    }

    @Benchmark
    public void linearDenseBf16() {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            torch.matmul(xBf16, denseBf16.t());
        }
    }

    @Benchmark
    public void linearNf4Bf16() {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            linear.forward(xBf16);
        }
    }
}
