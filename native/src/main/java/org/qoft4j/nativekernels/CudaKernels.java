package org.qoft4j.nativekernels;

import java.io.File;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.core.Tensors;
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
        KernelArgs args = KernelArgs.of(w);
        NativeLibrary.check(args.dequantizeCuda(Math.max(0, out.device().index()), WeightChecks.address(out),
                WeightChecks.dtypeCode(Tensors.dtype(out)), stream), "CUDA " + args.format() + " dequantization");
    }

    /** Waits for all work queued on {@code device} (device-wide, so libtorch's work too). */
    public static void synchronize(Device device) {
        if (!device.is_cuda()) throw new IllegalArgumentException("synchronize needs a CUDA device, got " + device.str().getString());
        require();
        NativeLibrary.check(NativeApi.qoft4j_cu_synchronize(Math.max(0, device.index())), "CUDA synchronize");
    }
}
