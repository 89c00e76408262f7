package org.qoft4j.bench.experiments;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.qoft4j.core.Tensors;
import org.qoft4j.nativekernels.NativeLibrary;

/**
 * The native rotation and its two backward products against libtorch: the batched matmul forward and
 * autograd's gradients. Tolerance: |native - libtorch| <= 1e-5 + 1e-5 * |libtorch| per element (both are
 * fp32 sums of b products in different orders, ours with FMA).
 */
class BlockRotationTest {
    @AfterEach
    void restoreIsa() {
        NativeLibrary.setIsa("avx512");
    }

    @Test
    void forwardAndBackwardMatchLibtorchOnEveryPath() {
        torch.manual_seed(7);
        List<String> paths = List.of("scalar", "avx2", "avx512");
        long[][] cases = {{1, 1, 1}, {7, 3, 5}, {9, 2, 16}, {33, 4, 32}, {100, 3, 33}, {64, 2, 64}, {5, 1, 130}};  // tokens, r, b
        for (String isa : paths.subList(0, paths.indexOf(NativeLibrary.bestIsa()) + 1)) {
            NativeLibrary.setIsa(isa);
            for (long[] c : cases)
                try (PointerScope scope = new PointerScope()) {
                    check(isa, c[0], c[1], c[2]);
                }
        }
    }

    private static void check(String isa, long tokens, long r, long b) {
        String label = isa + " tokens=" + tokens + " r=" + r + " b=" + b;
        // leading dims [2, tokens] exercise the [..., r*b] flattening
        Tensor x = torch.randn(new long[] {2, tokens, r * b}, new TensorOptions(ScalarType.Float)).set_requires_grad(true);
        Tensor rot = torch.randn(new long[] {r, b, b}, new TensorOptions(ScalarType.Float)).set_requires_grad(true);
        Tensor gy = torch.randn(new long[] {2, tokens, r * b}, new TensorOptions(ScalarType.Float));
        Tensor y = BlockRotation.rotateLibtorch(x, rot);
        torch.backward(new TensorVector(y), new TensorVector(gy), new BoolOptional(false), false, new TensorVector());
        try (NoGradGuard g = new NoGradGuard()) {
            assertClose(y, BlockRotation.rotate(x, rot), label + " forward");
            assertClose(x.grad(), BlockRotation.rotateTransposed(gy, rot), label + " grad x");
            assertClose(rot.grad(), BlockRotation.gradRotation(x, gy, r, b), label + " grad R");
        }
    }

    @Test
    void refusesInputsThatNeedAutograd() {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = torch.randn(new long[] {4, 8}, new TensorOptions(ScalarType.Float)).set_requires_grad(true);
            Tensor rot = torch.randn(new long[] {2, 4, 4}, new TensorOptions(ScalarType.Float));
            assertThrows(IllegalStateException.class, () -> BlockRotation.rotate(x, rot));
            try (NoGradGuard g = new NoGradGuard()) {
                assertArrayEquals(new long[] {4, 8}, Tensors.shape(BlockRotation.rotate(x, rot)));
            }
        }
    }

    @Test
    void badShapesAndDtypesAreIllegalArguments() {
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            Tensor x = torch.randn(new long[] {4, 8}, new TensorOptions(ScalarType.Float));
            Tensor rot = torch.randn(new long[] {2, 4, 4}, new TensorOptions(ScalarType.Float));
            assertThrows(IllegalArgumentException.class, () -> BlockRotation.rotate(x.narrow(1, 0, 6), rot));
            assertThrows(IllegalArgumentException.class, () -> BlockRotation.rotate(x, rot.narrow(2, 0, 3)));
            assertThrows(IllegalArgumentException.class, () -> BlockRotation.rotate(x.to(ScalarType.Double), rot));
            assertThrows(IllegalArgumentException.class, () -> BlockRotation.rotate(x, rot.to(ScalarType.BFloat16)));
            assertThrows(IllegalArgumentException.class, () -> BlockRotation.rotate(x, rot.reshape(8, 4)));
            assertThrows(IllegalArgumentException.class, () -> BlockRotation.gradRotation(x, x.narrow(0, 0, 3), 2, 4));
            assertThrows(IllegalArgumentException.class, () -> BlockRotation.gradRotation(x, x, 3, 4));
            // non-contiguous inputs are fine (copied): a transposed view
            Tensor xt = torch.randn(new long[] {8, 4}, new TensorOptions(ScalarType.Float)).t();
            assertClose(BlockRotation.rotateLibtorch(xt, rot), BlockRotation.rotate(xt, rot), "transposed x");
        }
    }

    private static void assertClose(Tensor expected, Tensor actual, String label) {
        assertArrayEquals(Tensors.shape(expected), Tensors.shape(actual), label + " shape");
        float[] e = Tensors.toFloats(expected), a = Tensors.toFloats(actual);
        for (int i = 0; i < e.length; i++)
            assertTrue(Math.abs(e[i] - a[i]) <= 1e-5 + 1e-5 * Math.abs(e[i]),
                    label + ": element " + i + " is " + a[i] + ", libtorch " + e[i]);
    }
}
