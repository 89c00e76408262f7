package org.qoft4j.nativekernels;

import java.io.File;
import java.util.Arrays;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.Int4Weight;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.kernel.Kernels;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CUDA kernels ({@code libqoft4j_cuda.so}, built by nvcc when the jar was built with nvcc on PATH).
 * Loaded on first use with a CUDA tensor, through the CPU library's dlopen bridge; {@code
 * -Dqoft4j.cuda.library=/path/libqoft4j_cuda.so} uses another build (e.g. one compiled on the GPU machine).
 * <p>
 * Streams: kernels are queued on the legacy default stream (stream 0), which is libtorch's current stream
 * unless the caller installed another one (a {@code CUDAStreamGuard}); the stream-taking overloads accept a
 * {@code cudaStream_t} address for that case. Getting libtorch's current stream from Java needs the CUDA
 * presets' classes ({@code torch_cuda.getCurrentCUDAStream().stream()}), which this module does not depend on.
 */
public final class CudaKernels {
    private static final Logger LOG = LoggerFactory.getLogger(CudaKernels.class);
    private static volatile String state;  // null until the first attempt, "" when usable, else why not

    private CudaKernels() {}

    /** Whether the CUDA kernels can run here (loads them on the first call). */
    public static boolean isAvailable() {
        return unavailableReason() == null;
    }

    /** Null when the CUDA kernels are usable; otherwise why not. */
    public static String unavailableReason() {
        String s = state;
        if (s == null) {
            synchronized (CudaKernels.class) {
                if (state == null) state = load();
                s = state;
            }
        }
        return s.isEmpty() ? null : s;
    }

    private static String load() {
        if (!NativeLibrary.isLoaded()) return "the CPU kernel library is not loaded: " + NativeLibrary.loadError();
        String path = System.getProperty("qoft4j.cuda.library");
        try {
            if (path == null) {
                String resource = Loader.getPlatform() + "/libqoft4j_cuda.so";
                if (NativeApi.class.getResource(resource) == null)
                    return "libqoft4j_cuda.so is not in the jar (built without nvcc)";
                File f = Loader.cacheResource(NativeApi.class, resource);
                path = f.getAbsolutePath();
            }
            if (NativeApi.qoft4j_cu_open(path) != 0) return NativeApi.qoft4j_last_error();
            int devices = NativeApi.qoft4j_cu_device_count();
            if (devices < 0) return NativeApi.qoft4j_last_error();
            if (devices == 0) return "no CUDA device";
            LOG.info("qoft4j CUDA kernels loaded from {} ({} device(s))", path, devices);
            return "";
        } catch (Exception | UnsatisfiedLinkError e) {
            return "cannot load " + (path == null ? "libqoft4j_cuda.so" : path) + ": " + e;
        }
    }

    static void require() {
        String why = unavailableReason();
        if (why != null) throw new IllegalStateException("qoft4j CUDA kernels unavailable: " + why);
    }

    /** Dequantizes into {@code out} on the default stream; arguments as for {@code Dequantizer.dequantize}. */
    public static void dequantize(QuantizedWeight w, Tensor out) {
        dequantize(w, out, 0L);
    }

    public static void dequantize(QuantizedWeight w, Tensor out, long stream) {
        String p = WeightChecks.problem(w, out);
        if (p == null && !out.is_cuda()) p = "the CUDA kernels need CUDA tensors, got " + out.device().str().getString();
        if (p == null && out.numel() > 0 && WeightChecks.address(out) % 16 != 0) p = "the output must be 16-byte aligned";
        if (p != null) throw new IllegalArgumentException(p);
        require();
        if (w.numel() == 0) return;
        int device = Math.max(0, out.device().index());
        int dt = WeightChecks.dtypeCode(Tensors.dtype(out));
        long o = WeightChecks.address(out);
        if (w instanceof Bnb4bitWeight b) {
            Bnb4bitWeight.NestedAbsmax nested = b.nested();
            NativeLibrary.check(NativeApi.qoft4j_cu_dequant_bnb(device, WeightChecks.address(b.packed()), WeightChecks.address(b.absmax()),
                    nested == null ? 0 : 1, WeightChecks.address(b.quantMap()), nested == null ? 0 : WeightChecks.address(nested.absmax()),
                    nested == null ? 0 : WeightChecks.address(nested.quantMap()), nested == null ? 0f : nested.offset(),
                    nested == null ? 1 : nested.blocksize(), b.numel(), b.blocksize(), o, dt, stream), "CUDA NF4/FP4 dequantization");
        } else {
            Int4Weight q = (Int4Weight) w;
            NativeLibrary.check(NativeApi.qoft4j_cu_dequant_int4(device, WeightChecks.address(q.qweight()), WeightChecks.address(q.qzeros()),
                    WeightChecks.address(q.scales()), q.rows(), q.cols(), q.groupSize(), o, dt, stream), "CUDA INT4 dequantization");
        }
    }

    /**
     * Batch-1 generation: {@code W x} for an NF4/FP4 weight {@code [rows, cols]} and a bf16 or fp16 vector
     * {@code x [cols]} (or {@code [1, cols]}), fused (no dequantized weight is materialized); fp32 accumulation.
     * Returns {@code [rows]} (or {@code [1, rows]}) in x's dtype. Falls back to dequantize + matmul when
     * {@code cols} is not a multiple of 32 or the tensors are not 16-byte aligned.
     */
    public static Tensor gemv(Bnb4bitWeight w, Tensor x) {
        long cols = w.cols();
        if (x == null || !x.defined()) throw new IllegalArgumentException("gemv: x is missing");
        ScalarType dt = Tensors.dtype(x);
        if (dt != ScalarType.BFloat16 && dt != ScalarType.Half)
            throw new IllegalArgumentException("gemv: x must be bfloat16 or float16, got " + dt);
        boolean batched = x.dim() == 2;
        if (!(x.dim() == 1 || batched && x.size(0) == 1) || x.size(-1) != cols)
            throw new IllegalArgumentException("gemv: x must be [" + cols + "] or [1, " + cols + "], got " + Arrays.toString(Tensors.shape(x)));
        if (!x.device().equals(w.device()) || !x.is_cuda())
            throw new IllegalArgumentException("gemv: x and the weight must be on the same CUDA device");
        Tensor out = torch.empty(batched ? new long[] {1, w.rows()} : new long[] {w.rows()},
                new TensorOptions(dt).device(new DeviceOptional(x.device())), null);
        Tensor xc = x.contiguous();
        String p = WeightChecks.bnbProblem(w, x.device());
        if (p != null) throw new IllegalArgumentException("gemv: " + p);
        require();
        boolean fused = cols % 32 == 0 && WeightChecks.address(w.packed()) % 16 == 0 && WeightChecks.address(xc) % 16 == 0;
        if (!fused || w.rows() == 0) {
            Tensor y = torch.matmul(Kernels.dequantize(w, dt), xc.reshape(cols));
            return batched ? y.reshape(1, w.rows()) : y;
        }
        Bnb4bitWeight.NestedAbsmax nested = w.nested();
        NativeLibrary.check(NativeApi.qoft4j_cu_gemv_bnb(Math.max(0, x.device().index()), WeightChecks.address(w.packed()), WeightChecks.address(w.absmax()),
                nested == null ? 0 : 1, WeightChecks.address(w.quantMap()), nested == null ? 0 : WeightChecks.address(nested.absmax()),
                nested == null ? 0 : WeightChecks.address(nested.quantMap()), nested == null ? 0f : nested.offset(),
                nested == null ? 1 : nested.blocksize(), w.rows(), cols, w.blocksize(), WeightChecks.address(xc),
                WeightChecks.address(out), WeightChecks.dtypeCode(dt), 0L), "CUDA NF4/FP4 GEMV");
        return out;
    }

    /** Waits for all work queued on {@code device} (device-wide, so libtorch's work too). */
    public static void synchronize(Device device) {
        if (!device.is_cuda()) throw new IllegalArgumentException("synchronize needs a CUDA device, got " + device.str().getString());
        require();
        NativeLibrary.check(NativeApi.qoft4j_cu_synchronize(Math.max(0, device.index())), "CUDA synchronize");
    }
}
