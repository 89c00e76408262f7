package org.qoft4j.bench.experiments;

import java.util.Arrays;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.Tensors;
import org.qoft4j.nativekernels.NativeLibrary;
import org.qoft4j.nativekernels.RawRotationKernels;

/**
 * Experiment, on no product path: OFT's blockwise rotation {@code y = x R} as native fp32 CPU kernels (module
 * native's {@link RawRotationKernels}), with {@code x [..., r*b]}, {@code R [r, b, b]},
 * {@code y[..., blk i] = x[..., blk i] R_i}, and its two backward products. Not wired in: against libtorch's
 * batched matmul ({@link #rotateLibtorch}, what {@code OftRotation} does) it wins only under contention in
 * {@code bench/jmh NativeRotationBench}, for a product that is ~2 % of a layer's FLOPs (docs/BENCHMARKS.md,
 * "Native kernels").
 * <p>
 * These return plain tensors with no autograd history (Java cannot define a custom autograd function), so
 * {@link #rotate} refuses inputs that require grad while grad mode is on; {@link HookedRotation} puts the
 * kernels inside autograd. Every argument is checked here before the raw entry points run.
 */
public final class BlockRotation {
    private BlockRotation() {}

    public static boolean isAvailable() {
        return NativeLibrary.isLoaded();
    }

    /** {@code y[..., blk i] = x[..., blk i] R_i}. */
    public static Tensor rotate(Tensor x, Tensor rot) {
        return apply(x, rot, false, "rotate");
    }

    /** {@code gx[..., blk i] = gy[..., blk i] R_i^T}: the gradient of {@link #rotate} with respect to x. */
    public static Tensor rotateTransposed(Tensor gy, Tensor rot) {
        return apply(gy, rot, true, "rotateTransposed");
    }

    /** {@code gR_i = sum over tokens of x[t, blk i]^T gy[t, blk i]}: the gradient of {@link #rotate} with respect to R. */
    public static Tensor gradRotation(Tensor x, Tensor gy, long r, long b) {
        if (r < 1 || b < 1) throw new IllegalArgumentException("gradRotation: r and b must be >= 1, got r=" + r + ", b=" + b);
        checkActivation("x", x, r * b);
        checkActivation("gy", gy, r * b);
        if (!Arrays.equals(Tensors.shape(x), Tensors.shape(gy)))
            throw new IllegalArgumentException("gradRotation: x " + Arrays.toString(Tensors.shape(x)) + " and gy "
                    + Arrays.toString(Tensors.shape(gy)) + " differ in shape");
        checkNoGrad("gradRotation", x, gy);
        Tensor xc = x.contiguous(), gc = gy.contiguous();
        Tensor g = torch.empty(new long[] {r, b, b}, x.options(), null);
        long tokens = x.numel() / (r * b);
        if (tokens == 0) return g.zero_();
        RawRotationKernels.gradRotation(address(xc), address(gc), address(g), tokens, r, b);
        return g;
    }

    /** The same product with libtorch ops (OftRotation's batched matmul), differentiable: the training path and the test reference. */
    public static Tensor rotateLibtorch(Tensor x, Tensor rot) {
        long r = rot.size(0), b = rot.size(1), d = r * b;
        long tokens = x.numel() / d;
        Tensor xb = x.reshape(tokens, r, b).transpose(0, 1);                 // [r, tokens, b]
        return torch.bmm(xb, rot).transpose(0, 1).reshape(Tensors.shape(x));  // [..., r*b]
    }

    private static Tensor apply(Tensor x, Tensor rot, boolean transpose, String what) {
        checkRotation(what, rot);
        long r = rot.size(0), b = rot.size(1);
        checkActivation("x", x, r * b);
        checkNoGrad(what, x, rot);
        Tensor xc = x.contiguous(), rc = rot.contiguous();
        Tensor y = torch.empty(Tensors.shape(x), x.options(), null);
        long tokens = x.numel() / (r * b);
        if (tokens == 0) return y;
        RawRotationKernels.rotate(address(xc), address(rc), address(y), tokens, r, b, transpose);
        return y;
    }

    private static long address(Tensor t) {
        return t.data_ptr().address();
    }

    private static void checkRotation(String what, Tensor rot) {
        if (rot == null || !rot.defined()) throw new IllegalArgumentException(what + ": R is missing");
        if (rot.dim() != 3 || rot.size(1) != rot.size(2) || rot.size(0) < 1 || rot.size(1) < 1)
            throw new IllegalArgumentException(what + ": R must be [r, b, b], got " + Arrays.toString(Tensors.shape(rot)));
        if (Tensors.dtype(rot) != ScalarType.Float || !rot.is_cpu())
            throw new IllegalArgumentException(what + ": R must be a float32 CPU tensor, got " + rot.scalar_type() + " on "
                    + rot.device().str().getString());
    }

    private static void checkActivation(String name, Tensor t, long d) {
        if (t == null || !t.defined()) throw new IllegalArgumentException(name + " is missing");
        if (t.dim() < 1 || t.size(-1) != d)
            throw new IllegalArgumentException(name + " must be [..., " + d + "], got " + Arrays.toString(Tensors.shape(t)));
        if (Tensors.dtype(t) != ScalarType.Float || !t.is_cpu())
            throw new IllegalArgumentException(name + " must be a float32 CPU tensor, got " + t.scalar_type() + " on "
                    + t.device().str().getString());
    }

    private static void checkNoGrad(String what, Tensor a, Tensor b) {
        if (GradMode.is_enabled() && (a.requires_grad() || b.requires_grad()))
            throw new IllegalStateException(what + ": the native rotation has no autograd; call it under NoGradGuard "
                    + "or use rotateLibtorch for training");
    }
}
