package org.qoft4j.nativekernels;

import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * The raw C API of {@code native/src/main/cpp/qoft4j/qoft4j_native.h}, bound by JavaCPP. The javacpp Maven
 * plugin compiles this class's JNI glue together with the kernel sources (one translation unit, g++) into
 * {@code libjniNativeApi.so}, packed in this module's jar. Addresses are {@code Tensor.data_ptr().address()};
 * nothing here checks anything: callers go through {@link NativeDequantizer} and {@link CudaKernels}, which
 * validate every argument first and pass a weight's arguments as {@link KernelArgs}; {@link RawRotationKernels}
 * (raw entry points for bench's experiments); and the test jar's {@code FusedGemv} ({@code qoft4j_cu_gemv_bnb},
 * exercised by {@code GpuCheck}), which is on no product path either.
 */
@Platform(value = "linux-x86_64", compiler = "cpp17",
        include = {"qoft4j_native.h", "dequant.cpp", "rotation.cpp", "cuda_bridge.cpp"})
final class NativeApi {
    private NativeApi() {}

    static native @Cast("const char*") String qoft4j_last_error();

    static native int qoft4j_isa();

    static native int qoft4j_set_isa(int level);

    static native int qoft4j_threads();

    static native void qoft4j_set_threads(int n);

    static native int qoft4j_copy(long dst, long src, long bytes);

    static native int qoft4j_dequant_bnb(long packed, long absmax, int absmaxIsCodes, long quantMap, long nestedAbsmax,
                                         long nestedMap, float offset, long nestedBlocksize, long n, long blocksize,
                                         long out, int outDtype);

    static native int qoft4j_dequant_int4(long qweight, long qzeros, long scales, long rows, long cols, long group,
                                          long out, int outDtype);

    static native int qoft4j_rotate(long x, long rot, long y, long tokens, long r, long b, int transpose);

    static native int qoft4j_rotate_grad(long x, long gy, long gradRot, long tokens, long r, long b);

    static native int qoft4j_cu_open(String path);

    static native int qoft4j_cu_device_count();

    static native int qoft4j_cu_dequant_bnb(int device, long packed, long absmax, int absmaxIsCodes, long quantMap,
                                            long nestedAbsmax, long nestedMap, float offset, long nestedBlocksize, long n,
                                            long blocksize, long out, int outDtype, long stream);

    static native int qoft4j_cu_dequant_int4(int device, long qweight, long qzeros, long scales, long rows, long cols,
                                             long group, long out, int outDtype, long stream);

    static native int qoft4j_cu_gemv_bnb(int device, long packed, long absmax, int absmaxIsCodes, long quantMap,
                                         long nestedAbsmax, long nestedMap, float offset, long nestedBlocksize, long rows,
                                         long cols, long blocksize, long x, long y, int xDtype, long stream);

    static native int qoft4j_cu_synchronize(int device);
}
