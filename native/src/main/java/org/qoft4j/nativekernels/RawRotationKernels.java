package org.qoft4j.nativekernels;

/**
 * Raw entry points of the blockwise-rotation kernels ({@code src/main/cpp/qoft4j/rotation.cpp}: fp32, CPU,
 * AVX-512 / AVX2 / scalar on the kernels' thread pool). No product path uses them: libtorch's batched matmul won
 * the measurement that decided it (docs/BENCHMARKS.md, "Native kernels"); the experiments that call them live in
 * module bench ({@code org.qoft4j.bench.experiments.BlockRotation}, {@code HookedRotation}).
 * <p>
 * Raw means: the arguments are addresses of contiguous fp32 CPU buffers ({@code Tensor.data_ptr().address()}) and
 * their sizes, and the buffers' sizes are not checked (they cannot be, from an address): a wrong size reads or
 * writes out of bounds. Callers validate shapes, dtypes, devices and contiguity first, as BlockRotation does.
 * Only null addresses and non-positive sizes are refused here.
 */
public final class RawRotationKernels {
    private RawRotationKernels() {}

    /**
     * {@code y[t, blk i] = x[t, blk i] R_i} ({@code transpose} false) or {@code R_i^T} (true), for x and y
     * {@code [tokens, r*b]} and R {@code [r, b, b]}.
     */
    public static void rotate(long x, long rot, long y, long tokens, long r, long b, boolean transpose) {
        check("rotate", tokens, r, b, x, rot, y);
        NativeLibrary.check(NativeApi.qoft4j_rotate(x, rot, y, tokens, r, b, transpose ? 1 : 0), "rotate");
    }

    /** {@code gR_i = sum over t of x[t, blk i]^T gy[t, blk i]}, for x and gy {@code [tokens, r*b]} and gR {@code [r, b, b]}. */
    public static void gradRotation(long x, long gy, long gradRot, long tokens, long r, long b) {
        check("gradRotation", tokens, r, b, x, gy, gradRot);
        NativeLibrary.check(NativeApi.qoft4j_rotate_grad(x, gy, gradRot, tokens, r, b), "gradRotation");
    }

    private static void check(String what, long tokens, long r, long b, long... addresses) {
        if (tokens < 1 || r < 1 || b < 1)
            throw new IllegalArgumentException(what + ": tokens, r and b must be >= 1, got " + tokens + ", " + r + ", " + b);
        for (long a : addresses) if (a == 0) throw new IllegalArgumentException(what + ": null buffer address");
        NativeLibrary.require();
    }
}
