package org.qoft4j.bench;

import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
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
import org.qoft4j.bench.experiments.BlockRotation;
import org.qoft4j.bench.experiments.HookedRotation;
import org.qoft4j.nativekernels.NativeLibrary;

/**
 * OFT's blockwise rotation x R (x [512, 2048] fp32, R [2048/b, b, b]): the native kernels against
 * libtorch's batched matmul (the formulation OftRotation uses), forward alone and the two backward
 * products (grad_x = gy R^T per block, grad_R = x^T gy per block), and forward + backward end to end:
 * libtorch autograd vs HookedRotation (native kernels substituted into autograd by tensor hooks).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class NativeRotationBench {
    static final long TOKENS = 512, D = 2048;

    @Param({"32", "64"})
    public long b;

    /** libtorch's and the native kernels' threads: 2 = the machine; 1 = stable when other jobs share the cores. */
    @Param({"2", "1"})
    public int threads;

    private PointerScope scope;
    private Tensor x, rot, gy, xReq, rotReq;

    @Setup(Level.Trial)
    public void setUp() {
        CpuThreads.use(threads);
        NativeLibrary.setThreads(threads);
        scope = new PointerScope();
        torch.manual_seed(1);
        x = torch.randn(TOKENS, D);
        rot = torch.randn(D / b, b, b);
        gy = torch.randn(TOKENS, D);
        xReq = x.detach().clone().set_requires_grad(true);
        rotReq = rot.detach().clone().set_requires_grad(true);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    @Benchmark
    public void forwardLibtorch() {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            BlockRotation.rotateLibtorch(x, rot);
        }
    }

    @Benchmark
    public void forwardNative() {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            BlockRotation.rotate(x, rot);
        }
    }

    /** The two products autograd's bmm backward computes, written with libtorch ops. */
    @Benchmark
    public void gradProductsLibtorch() {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            long r = rot.size(0);
            BlockRotation.rotateLibtorch(gy, rot.transpose(1, 2));
            Tensor xb = x.reshape(TOKENS, r, b).transpose(0, 1), gb = gy.reshape(TOKENS, r, b).transpose(0, 1);
            torch.bmm(xb.transpose(1, 2), gb);
        }
    }

    @Benchmark
    public void gradProductsNative() {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            BlockRotation.rotateTransposed(gy, rot);
            BlockRotation.gradRotation(x, gy, rot.size(0), b);
        }
    }

    /** libtorch autograd end to end: forward with graph, then backward to x and R. */
    @Benchmark
    public void forwardBackwardAutograd() {
        try (PointerScope s = new PointerScope()) {
            Tensor y = BlockRotation.rotateLibtorch(xReq, rotReq);
            torch.backward(new TensorVector(y), new TensorVector(gy), new BoolOptional(false), false, new TensorVector());
            xReq.grad().zero_();
            rotReq.grad().zero_();
        }
    }

    /** The same through HookedRotation: native forward, native backward products substituted by tensor hooks. */
    @Benchmark
    public void forwardBackwardHooked() {
        try (PointerScope s = new PointerScope(); HookedRotation hooked = new HookedRotation()) {
            Tensor y = hooked.rotate(xReq, rotReq);
            torch.backward(new TensorVector(y), new TensorVector(gy), new BoolOptional(false), false, new TensorVector());
            xReq.grad().zero_();
            rotReq.grad().zero_();
        }
    }
}
