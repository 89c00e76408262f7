package org.qoft4j.nativekernels;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.kernel.Kernels;
import org.qoft4j.quant.linear.QuantizedLinear;

/**
 * The GPU check, one short run on a CUDA machine (native/gpu-check.sh starts it through the GPU bundle):
 * <ol>
 *   <li>stack: libtorch sees the GPU, a bf16 matmul and one backward pass run there;</li>
 *   <li>agree: the CUDA kernels against the CPU reference, bit for bit (NF4/FP4 +- double quantization,
 *       blocksizes 32..4096, odd sizes, INT4 groups; fp32/bf16/fp16), and the fused GEMV against
 *       dequantize + matmul;</li>
 *   <li>speed: NF4 -> bf16 dequantization bandwidth (GB/s, % of the card's peak and of a device copy),
 *       the 4-bit linear forward vs a bf16 matmul at 4096x4096 with 4096 tokens, GEMV vs dequantize + matvec.</li>
 * </ol>
 * Prints a compact table; exit status 0 when everything agrees, 1 when something disagrees, 2 without CUDA.
 * {@code --device cpu} runs the same program on the CPU kernels (to try it without a GPU);
 * {@code --peak-gbs N} sets the card's nominal bandwidth (default 3350, an H100 SXM; H200: 4800).
 */
public final class GpuCheck {
    private final Device device;
    private final boolean cuda;
    private final double peakGbs;
    private int failures;

    private GpuCheck(Device device, double peakGbs) {
        this.device = device;
        this.cuda = device.is_cuda();
        this.peakGbs = peakGbs;
    }

    public static void main(String[] args) {
        String dev = "cuda";
        double peak = 3350;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--device" -> dev = args[++i];
                case "--peak-gbs" -> peak = Double.parseDouble(args[++i]);
                default -> {
                    System.err.println("usage: GpuCheck [--device cuda|cpu] [--peak-gbs N]");
                    System.exit(64);
                }
            }
        }
        torch.set_num_threads(Runtime.getRuntime().availableProcessors());
        System.out.printf(Locale.ROOT, "java %s | libtorch cuda available: %s (%d device(s)) | native CPU kernels: %s%n",
                System.getProperty("java.version"), torch.cuda_is_available(), torch.cuda_device_count(),
                NativeLibrary.isLoaded() ? NativeLibrary.isa() : "NOT LOADED (" + NativeLibrary.loadError() + ")");
        if (dev.equals("cuda")) {
            if (!torch.cuda_is_available()) {
                System.out.println("FAIL: libtorch reports no CUDA device");
                System.exit(2);
            }
            String why = CudaKernels.unavailableReason();
            System.out.println("CUDA kernels: " + (why == null ? "loaded" : "UNAVAILABLE: " + why));
            if (why != null) System.exit(2);
        }
        GpuCheck check = new GpuCheck(new Device(dev), peak);
        long t0 = System.nanoTime();
        check.stack();
        check.agree();
        check.speed();
        System.out.printf(Locale.ROOT, "%s in %.1f s%n", check.failures == 0 ? "ALL AGREE" : check.failures + " CHECK(S) FAILED",
                (System.nanoTime() - t0) / 1e9);
        System.exit(check.failures == 0 ? 0 : 1);
    }

    private TensorOptions on(ScalarType dt) {
        return new TensorOptions(dt).device(new DeviceOptional(device));
    }

    private void stack() {
        try (PointerScope scope = new PointerScope()) {
            Tensor a = torch.randn(new long[] {256, 256}, on(ScalarType.BFloat16));
            Tensor w = torch.randn(new long[] {256, 256}, on(ScalarType.Float)).set_requires_grad(true);
            Tensor y = torch.matmul(a, a.t());
            Tensor loss = torch.matmul(a.to(ScalarType.Float), w).pow(new Scalar(2.0)).mean();
            torch.backward(new TensorVector(loss), new TensorVector(), new BoolOptional(false), false, new TensorVector());
            // Device is a native pointer: equals() compares addresses, so compare the kind of device
            boolean ok = y.is_cuda() == device.is_cuda() && w.grad().defined() && Double.isFinite(w.grad().abs().sum().item_double());
            System.out.printf(Locale.ROOT, "stack | bf16 matmul + backward on %s: %s%n", device.str().getString(), ok ? "ok" : "FAILED");
            if (!ok) failures++;
        }
    }

    private void agree() {
        System.out.println("agree | case                                        |   elements | mismatches fp32 / bf16 / fp16");
        Random rnd = new Random(11);
        for (QuantType t : new QuantType[] {QuantType.NF4, QuantType.FP4})
            for (boolean dq : new boolean[] {false, true}) {
                long[] bad = new long[3];
                long elements = 0;
                for (int bs = 32; bs <= 4096; bs *= 2) {
                    long rows = 37, cols = 1003;  // odd element count, a short last block
                    try (PointerScope scope = new PointerScope(); QuantizedWeight w = RandomWeights.bnb(rnd, t, rows, cols, bs, dq)) {
                        elements += compare(w, bad);
                    }
                }
                report(t.lowerName() + (dq ? " double-quant" : "") + ", bs 32..4096, 37x1003", elements, bad);
            }
        long[] bad = new long[3];
        long elements = 0;
        for (int g : new int[] {8, 32, 128}) {
            try (PointerScope scope = new PointerScope(); QuantizedWeight w = RandomWeights.int4(rnd, 264, 1024, g)) {
                elements += compare(w, bad);
            }
        }
        report("int4, groups 8/32/128, 264x1024", elements, bad);
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard();
             Bnb4bitWeight w = RandomWeights.bnb(rnd, QuantType.NF4, 4096, 4096, 64, true)) {
            Bnb4bitWeight dw = w.to(device);
            for (ScalarType dt : new ScalarType[] {ScalarType.BFloat16, ScalarType.Half}) {
                Tensor x = torch.randn(new long[] {4096}, on(ScalarType.Float)).to(dt);
                Tensor y = cuda ? FusedGemv.gemv(dw, x) : torch.matmul(Kernels.dequantize(dw, dt), x);
                Tensor wf = torch.empty(new long[] {dw.rows(), dw.cols()}, on(ScalarType.Float), null);
                Kernels.reference().dequantize(dw, wf);
                Tensor ref = torch.matmul(wf, x.to(ScalarType.Float));  // fp32 weights, fp32 vector
                double err = y.to(ScalarType.Float).sub(ref).abs().max().item_double();
                double scale = ref.abs().max().item_double();
                boolean ok = err <= 1e-2 * scale;
                System.out.printf(Locale.ROOT, "agree | gemv nf4 dq 4096x4096 (%s x) vs fp32 matmul: max |err| %.3g of max |y| %.3g: %s%n",
                        dt, err, scale, ok ? "ok" : "FAILED");
                if (!ok) failures++;
            }
            dw.close();
        }
    }

    private void report(String label, long elements, long[] bad) {
        boolean ok = bad[0] == 0 && bad[1] == 0 && bad[2] == 0;
        System.out.printf(Locale.ROOT, "agree | %-43s | %10d | %d / %d / %d%s%n", label, elements, bad[0], bad[1], bad[2], ok ? "" : "  FAILED");
        if (!ok) failures++;
    }

    /**
     * Dequantizes on the device with the native kernel and on the CPU with the reference, into fp32, bf16
     * and fp16; adds the number of differing elements per dtype to {@code bad}; returns the element count.
     */
    private long compare(QuantizedWeight cpuWeight, long[] bad) {
        ScalarType[] dtypes = {ScalarType.Float, ScalarType.BFloat16, ScalarType.Half};
        QuantizedWeight w = cpuWeight.to(device);
        try {
            for (int k = 0; k < dtypes.length; k++) {
                Tensor ref = torch.empty(new long[] {w.rows(), w.cols()}, new TensorOptions(dtypes[k]), null);
                Kernels.reference().dequantize(cpuWeight, ref);
                Tensor out = torch.empty(new long[] {w.rows(), w.cols()}, on(dtypes[k]), null);
                new NativeDequantizer().dequantize(w, out);
                long[] a = RandomWeights.bits(ref), b = RandomWeights.bits(out);
                for (int i = 0; i < a.length; i++) if (a[i] != b[i]) bad[k]++;
            }
            return w.numel();
        } finally {
            w.close();
        }
    }

    private void speed() {
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Random rnd = new Random(12);
            long n = cuda ? 8192 : 2048;
            Bnb4bitWeight cpuW = RandomWeights.bnb(rnd, QuantType.NF4, n, n, 64, false);
            Bnb4bitWeight w = cpuW.to(device);
            cpuW.close();
            Tensor out = torch.empty(new long[] {n, n}, on(ScalarType.BFloat16), null);
            NativeDequantizer kernel = new NativeDequantizer();
            double dq = time(() -> kernel.dequantize(w, out));
            double bytes = n * n * (0.5 + 2.0) + (double) n * n / 64 * 4;
            Tensor src = torch.empty(new long[] {n, n}, on(ScalarType.BFloat16), null).fill_(new Scalar(1.0));
            double copy = time(() -> out.copy_(src));
            double copyBytes = n * n * 4.0;
            System.out.printf(Locale.ROOT, "speed | nf4 -> bf16 dequant %dx%d: %.3f ms, %.0f GB/s = %.0f%% of %.0f GB/s peak, %.0f%% of copy_ (%.0f GB/s)%n",
                    n, n, dq * 1e3, bytes / dq / 1e9, 100 * bytes / dq / 1e9 / peakGbs, peakGbs, 100 * (bytes / dq) / (copyBytes / copy), copyBytes / copy / 1e9);
            w.close();

            long d = cuda ? 4096 : 1024, tokens = cuda ? 4096 : 256;
            Tensor dense = torch.randn(new long[] {d, d}, on(ScalarType.Float)).mul(new Scalar(0.02));
            Tensor denseBf16 = dense.to(ScalarType.BFloat16);
            QuantizedLinear q = QuantizedLinear.quantize(dense, null, org.qoft4j.quant.QuantSpec.nf4());
            Tensor x = torch.randn(new long[] {tokens, d}, on(ScalarType.BFloat16));
            double tDense = time(() -> torch.matmul(x, denseBf16.t()));
            double tQuant = time(() -> q.forward(x));
            System.out.printf(Locale.ROOT, "speed | linear [%dx%d]x[%dx%d]^T bf16: dense %.3f ms (%.0f TFLOP/s), nf4 %.3f ms -> ratio %.2f%n",
                    tokens, d, d, d, tDense * 1e3, 2.0 * tokens * d * d / tDense / 1e12, tQuant * 1e3, tQuant / tDense);
            if (cuda) {
                Bnb4bitWeight qw = (Bnb4bitWeight) q.weight();
                Tensor v = torch.randn(new long[] {d}, on(ScalarType.BFloat16));
                double tGemv = time(() -> FusedGemv.gemv(qw, v));
                double tUnfused = time(() -> torch.matmul(Kernels.dequantize(qw, ScalarType.BFloat16), v));
                double tDenseV = time(() -> torch.matmul(denseBf16, v));
                System.out.printf(Locale.ROOT, "speed | gemv nf4 %dx%d: fused %.1f us, dequant+matvec %.1f us, dense bf16 matvec %.1f us%n",
                        d, d, tGemv * 1e6, tUnfused * 1e6, tDenseV * 1e6);
            }
            q.close();
            QuantizedLinear.releaseWorkspace();
        }
    }

    /** Seconds per call: warm up, then as many calls as fit in ~0.5 s (at least 5), synchronized around the loop. */
    private double time(Runnable op) {
        for (int i = 0; i < 3; i++) runScoped(op);
        sync();
        int calls = 0;
        long start = System.nanoTime(), end;
        do {
            runScoped(op);
            calls++;
            if (calls % 5 == 0) sync();
            end = System.nanoTime();
        } while (calls < 5 || end - start < 500_000_000L);
        sync();
        return (System.nanoTime() - start) / 1e9 / calls;
    }

    private static void runScoped(Runnable op) {
        try (PointerScope s = new PointerScope()) {
            op.run();
        }
    }

    private void sync() {
        if (cuda) torch.cuda_synchronize();
    }
}
