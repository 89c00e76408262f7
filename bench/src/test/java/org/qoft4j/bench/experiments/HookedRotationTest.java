package org.qoft4j.bench.experiments;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.qoft4j.core.Tensors;

/**
 * Gradients through HookedRotation against plain autograd through libtorch's batched matmul, with
 * producers before x and R (so the substituted gradients must flow on) and a non-linear consumer after y.
 * Tolerance as in BlockRotationTest: 1e-5 + 1e-5 * |ref|.
 */
class HookedRotationTest {
    @Test
    void gradientsMatchAutogradForEveryCombination() {
        torch.manual_seed(3);
        for (boolean gradX : new boolean[] {true, false})
            for (boolean gradR : new boolean[] {true, false})
                for (int repeat = 0; repeat < 2; repeat++)  // a second step reuses nothing from the first
                    try (PointerScope scope = new PointerScope()) {
                        check(gradX, gradR, 3 + 30 * repeat, 4, 8);
                    }
    }

    private static void check(boolean gradX, boolean gradR, long tokens, long r, long b) {
        Tensor p = torch.randn(r, b, b).set_requires_grad(gradR);
        Tensor x0 = torch.randn(2, tokens, r * b).set_requires_grad(gradX);
        Tensor gy = torch.randn(2, tokens, r * b);

        Tensor expected = BlockRotation.rotateLibtorch(x0.mul(new Scalar(3.0)), p.mul(new Scalar(2.0))).tanh();
        if (gradX || gradR) backward(expected, gy);
        Tensor gp = gradR ? p.grad().clone() : null, gx = gradX ? x0.grad().clone() : null;
        if (gradR) p.grad().zero_();
        if (gradX) x0.grad().zero_();

        try (HookedRotation hooked = new HookedRotation()) {
            Tensor y = hooked.rotate(x0.mul(new Scalar(3.0)), p.mul(new Scalar(2.0))).tanh();
            assertClose(expected, y, "forward");
            assertTrue(y.requires_grad() == (gradX || gradR));
            if (!gradX && !gradR) return;
            backward(y, gy);
        }
        if (gradR) assertClose(gp, p.grad(), "grad R (x " + gradX + ")");
        else assertFalse(p.grad().defined());
        if (gradX) assertClose(gx, x0.grad(), "grad x (R " + gradR + ")");
    }

    private static void backward(Tensor y, Tensor grad) {
        torch.backward(new TensorVector(y), new TensorVector(grad), new BoolOptional(false), false, new TensorVector());
    }

    private static void assertClose(Tensor expected, Tensor actual, String label) {
        float[] e = Tensors.toFloats(expected), a = Tensors.toFloats(actual);
        assertTrue(e.length == a.length, label + " size");
        for (int i = 0; i < e.length; i++)
            assertTrue(Math.abs(e[i] - a[i]) <= 1e-5 + 1e-5 * Math.abs(e[i]), label + ": element " + i + " is " + a[i] + ", autograd " + e[i]);
    }
}
