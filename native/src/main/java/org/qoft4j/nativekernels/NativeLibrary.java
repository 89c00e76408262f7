package org.qoft4j.nativekernels;

import java.util.Locale;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.core.Tensors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the CPU kernel library ({@code libjniNativeApi.so}, packed in this jar) once, and says whether it
 * is usable. Nothing here throws on a machine without it: {@link #isLoaded()} is false and
 * {@link #loadError()} says why.
 * <p>
 * System properties: {@code qoft4j.native.threads} (default: available processors),
 * {@code qoft4j.native.isa} ({@code scalar}, {@code avx2}, {@code avx512}: caps the instruction set).
 */
public final class NativeLibrary {
    private static final Logger LOG = LoggerFactory.getLogger(NativeLibrary.class);
    private static final String[] ISA_NAMES = {"scalar", "avx2", "avx512"};
    private static final String LOAD_ERROR = load();

    private NativeLibrary() {}

    private static String load() {
        try {
            Loader.load(NativeApi.class);
            NativeApi.qoft4j_set_threads(Integer.getInteger("qoft4j.native.threads", Runtime.getRuntime().availableProcessors()));
            String isa = System.getProperty("qoft4j.native.isa");
            if (isa != null) setIsa(isaLevel(isa));
            return null;
        } catch (Throwable e) {  // UnsatisfiedLinkError, or a platform without the library
            LOG.debug("qoft4j native kernels unavailable", e);
            return e.toString();
        }
    }

    public static boolean isLoaded() {
        return LOAD_ERROR == null;
    }

    /** Why the library did not load, or null when it did. */
    public static String loadError() {
        return LOAD_ERROR;
    }

    static void require() {
        if (!isLoaded()) throw new IllegalStateException("qoft4j native kernels are not loaded: " + LOAD_ERROR);
    }

    /** The instruction set the kernels use: "scalar", "avx2" or "avx512". */
    public static String isa() {
        require();
        return ISA_NAMES[NativeApi.qoft4j_isa()];
    }

    /** Caps the instruction set (tests exercise every path this way); returns the one now in use. */
    public static String setIsa(String name) {
        require();
        return ISA_NAMES[setIsa(isaLevel(name))];
    }

    private static int setIsa(int level) {
        return NativeApi.qoft4j_set_isa(level);
    }

    private static int isaLevel(String name) {
        for (int i = 0; i < ISA_NAMES.length; i++)
            if (ISA_NAMES[i].equals(name.trim().toLowerCase(Locale.ROOT))) return i;
        throw new IllegalArgumentException("unknown instruction set '" + name + "': expected scalar, avx2 or avx512");
    }

    /** The best instruction set this CPU supports (independent of any cap). */
    public static String bestIsa() {
        require();
        int current = NativeApi.qoft4j_isa();
        int best = NativeApi.qoft4j_set_isa(ISA_NAMES.length - 1);
        NativeApi.qoft4j_set_isa(current);
        return ISA_NAMES[best];
    }

    public static int threads() {
        require();
        return NativeApi.qoft4j_threads();
    }

    public static void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("thread count must be >= 1, got " + n);
        require();
        NativeApi.qoft4j_set_threads(n);
    }

    /**
     * Copies {@code src} into {@code dst} with memcpy on the kernels' thread pool: the memory-bandwidth
     * baseline the dequantization kernels are measured against (same threads, no dtype conversion).
     * Both must be contiguous CPU tensors of the same dtype and element count.
     */
    public static void copy(Tensor dst, Tensor src) {
        if (!dst.is_cpu() || !src.is_cpu() || !dst.is_contiguous() || !src.is_contiguous()
                || Tensors.dtype(dst) != Tensors.dtype(src) || dst.numel() != src.numel())
            throw new IllegalArgumentException("copy needs contiguous CPU tensors of one dtype and size");
        require();
        if (dst.numel() == 0) return;
        check(NativeApi.qoft4j_copy(dst.data_ptr().address(), src.data_ptr().address(), dst.nbytes()), "copy");
    }

    /** Turns a non-zero status from the C API into an exception carrying its message. */
    static void check(int status, String what) {
        if (status != 0) throw new IllegalStateException(what + " failed: " + NativeApi.qoft4j_last_error());
    }
}
