package org.qoft4j.nativekernels;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * The raw rotation entry points that bench's experiments call: one product of each kind against libtorch's bmm
 * (bench's BlockRotationTest covers every instruction set and shape), and the arguments they refuse.
 */
class RawRotationKernelsTest {
    @Test
    void rotateAndGradMatchBmm() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(5);
            long tokens = 9, r = 3, b = 16;
            Tensor x = torch.randn(tokens, r * b), rot = torch.randn(r, b, b), gy = torch.randn(tokens, r * b);
            Tensor xb = x.reshape(tokens, r, b).transpose(0, 1), gb = gy.reshape(tokens, r, b).transpose(0, 1);  // [r, tokens, b]
            Tensor y = torch.empty(tokens, r * b), yt = torch.empty(tokens, r * b), g = torch.empty(r, b, b);
            RawRotationKernels.rotate(addr(x), addr(rot), addr(y), tokens, r, b, false);
            RawRotationKernels.rotate(addr(gy), addr(rot), addr(yt), tokens, r, b, true);
            RawRotationKernels.gradRotation(addr(x), addr(gy), addr(g), tokens, r, b);
            assertClose(torch.bmm(xb, rot).transpose(0, 1).reshape(tokens, r * b), y, "x R");
            assertClose(torch.bmm(gb, rot.transpose(1, 2)).transpose(0, 1).reshape(tokens, r * b), yt, "gy R^T");
            assertClose(torch.bmm(xb.transpose(1, 2), gb), g, "x^T gy");
        }
    }

    @Test
    void refusesNullAddressesAndEmptySizes() {
        try (PointerScope scope = new PointerScope()) {
            Tensor t = torch.zeros(4, 4);
            long a = addr(t);
            assertThrows(IllegalArgumentException.class, () -> RawRotationKernels.rotate(a, 0, a, 1, 1, 4, false));
            assertThrows(IllegalArgumentException.class, () -> RawRotationKernels.rotate(a, a, a, 0, 1, 4, false));
            assertThrows(IllegalArgumentException.class, () -> RawRotationKernels.gradRotation(a, a, a, 1, 0, 4));
            assertThrows(IllegalArgumentException.class, () -> RawRotationKernels.gradRotation(a, a, a, 1, 1, -4));
        }
    }

    private static long addr(Tensor t) {
        return t.data_ptr().address();
    }

    private static void assertClose(Tensor expected, Tensor actual, String label) {
        double err = expected.sub(actual).abs().max().item_double(), scale = expected.abs().max().item_double();
        assertTrue(err <= 1e-5 * (1 + scale), label + ": max |native - bmm| " + err + " at max |bmm| " + scale);
    }
}
