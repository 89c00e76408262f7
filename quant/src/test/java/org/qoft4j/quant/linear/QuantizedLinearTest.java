package org.qoft4j.quant.linear;

import org.qoft4j.quant.kernel.Kernels;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.ScopedTest;
import org.qoft4j.core.Tensors;
import org.qoft4j.core.memory.NativeHeap;

class QuantizedLinearTest extends ScopedTest {
    @AfterEach
    void releaseWorkspace() {
        QuantizedLinear.releaseWorkspace();
    }

    private static Tensor randn(long seed, long... shape) {
        Random rnd = new Random(seed);
        long n = 1;
        for (long d : shape) n *= d;
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) v[i] = (float) rnd.nextGaussian();
        return Tensors.of(v, shape);
    }

    private static QuantSpec spec(QuantType t) {
        return t == QuantType.INT4 ? QuantSpec.of(t) : QuantSpec.of(t).withDoubleQuant(t == QuantType.NF4);
    }

    /** y = x W^T + b equals the same product computed directly from the dequantized weight (bit for bit). */
    @ParameterizedTest
    @EnumSource(QuantType.class)
    void forwardEqualsMatmulWithDequantizedWeight(QuantType type) {
        Tensor w = randn(1, 48, 256), b = randn(2, 48), x = randn(3, 5, 7, 256);
        try (QuantizedLinear layer = QuantizedLinear.quantize(w, b, spec(type))) {
            assertEquals(256, layer.inFeatures());
            assertEquals(48, layer.outFeatures());
            for (ScalarType dt : new ScalarType[] {ScalarType.Float, ScalarType.BFloat16}) {
                Tensor xd = x.to(dt);
                Tensor deq = Kernels.dequantize(layer.weight(), dt);
                Tensor expected = torch.matmul(xd, deq.t()).add(b.to(dt));
                Tensor y = layer.forward(xd);
                assertEquals(dt, Tensors.dtype(y));
                assertArrayEquals(Tensors.shape(expected), Tensors.shape(y));
                assertArrayEquals(Tensors.toFloats(expected), Tensors.toFloats(y), type + " " + dt + " with grad");
                try (NoGradGuard g = new NoGradGuard()) {
                    assertArrayEquals(Tensors.toFloats(expected), Tensors.toFloats(layer.forward(xd)), type + " " + dt + " no grad");
                }
            }
            // and against an independent float64 evaluation of the same product
            double[] wd = Tensors.toDoubles(layer.dequantizedWeight(ScalarType.Float));
            double[] xs = Tensors.toDoubles(x), bs = Tensors.toDoubles(b);
            float[] y = Tensors.toFloats(layer.forward(x));
            for (int r = 0; r < 35; r += 17)
                for (int o = 0; o < 48; o += 5) {
                    double acc = bs[o];
                    for (int i = 0; i < 256; i++) acc += xs[r * 256 + i] * wd[o * 256 + i];
                    assertEquals(acc, y[r * 48 + o], 1e-4, "row " + r + " out " + o);
                }
        }
    }

    /** Layers of one shape share the no-grad workspace; interleaving them must not mix their weights. */
    @Test
    void sharedWorkspaceDoesNotLeakBetweenLayers() {
        Tensor x = randn(4, 3, 64);
        try (QuantizedLinear a = QuantizedLinear.quantize(randn(5, 32, 64), null, QuantSpec.nf4());
             QuantizedLinear b = QuantizedLinear.quantize(randn(6, 32, 64), null, QuantSpec.nf4());
             NoGradGuard g = new NoGradGuard()) {
            float[] ya = Tensors.toFloats(torch.matmul(x, a.dequantizedWeight(ScalarType.Float).t()));
            float[] yb = Tensors.toFloats(torch.matmul(x, b.dequantizedWeight(ScalarType.Float).t()));
            Tensor a1 = a.forward(x), b1 = b.forward(x), a2 = a.forward(x);
            assertArrayEquals(ya, Tensors.toFloats(a1));
            assertArrayEquals(yb, Tensors.toFloats(b1));
            assertArrayEquals(ya, Tensors.toFloats(a2));
        }
    }

    /** With grad, the input gradient is grad_y W (W dequantized), and the layer keeps no dequantized weight. */
    @Test
    void backwardGivesInputGradient() {
        try (QuantizedLinear layer = QuantizedLinear.quantize(randn(7, 16, 64), randn(8, 16), QuantSpec.nf4())) {
            Tensor x = randn(9, 4, 64).set_requires_grad(true);
            Tensor y = layer.forward(x);
            Tensor gy = randn(10, 4, 16);
            torch.backward(new TensorVector(y), new TensorVector(gy), new BoolOptional(false), false, new TensorVector());
            Tensor expected = torch.matmul(gy, layer.dequantizedWeight(ScalarType.Float));
            float[] got = Tensors.toFloats(x.grad()), want = Tensors.toFloats(expected);
            for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5f);
        }
    }

    /**
     * Every layer shares the one workspace with grad too, whatever its shape, and the backward dequantizes each one
     * again: several layers (two of one shape, interleaved, one used twice, a transposed shape and a smaller one, in
     * fp32 and bf16) give the input gradient of their dense dequantized weights, through the reference kernel (which
     * bumps the workspace's version counter) and in an order the autograd engine chooses.
     */
    @ParameterizedTest
    @EnumSource(value = QuantType.class, names = {"NF4", "INT4"})
    void backwardRedequantizesLayersThatShareAWorkspace(QuantType type) {
        try (QuantizedLinear a = QuantizedLinear.quantize(randn(20, 256, 128), randn(21, 256), spec(type));
             QuantizedLinear b = QuantizedLinear.quantize(randn(22, 256, 128), null, spec(type));
             QuantizedLinear c = QuantizedLinear.quantize(randn(23, 128, 256), null, spec(type));
             QuantizedLinear d = QuantizedLinear.quantize(randn(26, 128, 128), null, spec(type))) {
            for (ScalarType dt : new ScalarType[] {ScalarType.Float, ScalarType.BFloat16}) {
                Tensor x = randn(24, 2, 3, 128).to(dt).set_requires_grad(true);
                Tensor h = a.forward(x).mul(b.forward(x));            // [2, 3, 256]
                // b and c twice, a's weight overwritten by b's, c's by d's (another shape in the same memory)
                Tensor y = c.forward(h).add(x).add(c.forward(b.forward(x))).add(d.forward(x));
                Tensor gy = randn(25, 2, 3, 128).to(dt);
                torch.backward(new TensorVector(y), new TensorVector(gy), new BoolOptional(false), false, new TensorVector());

                Tensor xr = x.detach().to(ScalarType.Double).set_requires_grad(true);
                Tensor wa = a.dequantizedWeight(dt).to(ScalarType.Double), wb = b.dequantizedWeight(dt).to(ScalarType.Double);
                Tensor wc = c.dequantizedWeight(dt).to(ScalarType.Double), ba = a.bias().to(ScalarType.Double);
                Tensor wd = d.dequantizedWeight(dt).to(ScalarType.Double);
                Tensor hr = torch.matmul(xr, wa.t()).add(ba).mul(torch.matmul(xr, wb.t()));
                Tensor yr = torch.matmul(hr, wc.t()).add(xr).add(torch.matmul(torch.matmul(xr, wb.t()), wc.t())).add(torch.matmul(xr, wd.t()));
                torch.backward(new TensorVector(yr), new TensorVector(gy.to(ScalarType.Double)), new BoolOptional(false), false,
                        new TensorVector());
                float[] got = Tensors.toFloats(x.grad()), want = Tensors.toFloats(xr.grad());
                double scale = 0;
                for (float v : want) scale = Math.max(scale, Math.abs(v));
                double tol = (dt == ScalarType.Float ? 1e-5 : 3e-2) * scale;
                for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], tol, dt + " element " + i);
            }
        }
    }

    /**
     * A layer larger than every earlier one grows the workspace; a graph built before through the old buffer still
     * gets its input gradient (the old buffer lives until {@link QuantizedLinear#releaseWorkspace()}).
     */
    @Test
    void graphThroughTheOldWorkspaceSurvivesItsGrowth() {
        QuantizedLinear.releaseWorkspace();
        try (QuantizedLinear small = QuantizedLinear.quantize(randn(30, 64, 64), null, QuantSpec.nf4())) {
            Tensor x = randn(31, 3, 64).set_requires_grad(true);
            Tensor y = small.forward(x);
            // built after the forward, 4,100 x 4,096: larger than any other layer of this suite, so the workspace grows
            try (QuantizedLinear big = QuantizedLinear.quantize(randn(32, 4100, 4096), null, QuantSpec.nf4());
                 NoGradGuard g = new NoGradGuard()) {
                big.forward(randn(33, 1, 4096));
            }
            Tensor gy = randn(34, 3, 64);
            torch.backward(new TensorVector(y), new TensorVector(gy), new BoolOptional(false), false, new TensorVector());
            float[] got = Tensors.toFloats(x.grad()), want = Tensors.toFloats(torch.matmul(gy, small.dequantizedWeight(ScalarType.Float)));
            for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5f);
        } finally {
            QuantizedLinear.releaseWorkspace();
        }
    }

    /** A graph through a 4-bit layer holds no dequantized weight: the forward with grad allocates far less than W. */
    @Test
    void gradForwardKeepsNoDequantizedWeight() {
        Assumptions.assumeTrue(NativeHeap.available(), "needs glibc's mallinfo2");
        // 2048 x 2048: a dequantized copy (16 MiB) stands far above what else a forward may allocate (an arena for a
        // new pool thread, kernel scratch: up to ~0.6 MiB seen on a loaded machine)
        try (QuantizedLinear layer = QuantizedLinear.quantize(randn(26, 2048, 2048), null, QuantSpec.nf4())) {
            Tensor x = randn(27, 4, 2048).set_requires_grad(true);
            layer.forward(x.detach()); // creates the workspace
            long before = NativeHeap.liveBytes();
            Tensor y = layer.forward(x);
            long added = NativeHeap.liveBytes() - before;
            long weightBytes = 2048L * 2048 * 4;
            assertTrue(added < weightBytes / 8, "the grad forward added " + added + " bytes; a dequantized copy of W is " + weightBytes);
            y.sum().backward();
            assertTrue(x.grad().abs().sum().item_double() > 0, "the input gradient arrived");
        }
    }

    @Test
    void weightBytesIsStorage() {
        try (QuantizedLinear layer = QuantizedLinear.quantize(randn(11, 64, 128), null, QuantSpec.nf4())) {
            assertEquals(64 * 128 / 2 + 64 * 128 / 64 * 4 + 16 * 4, layer.weightBytes());
            assertEquals(layer.weight().storageBytes(), layer.weightBytes());
        }
    }

    @Test
    void badInputs() {
        try (QuantizedLinear layer = QuantizedLinear.quantize(randn(12, 16, 64), null, QuantSpec.nf4())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> layer.forward(randn(13, 2, 32)));
            assertTrue(e.getMessage().contains("32 features"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> layer.forward(randn(13, 2, 64).to(ScalarType.Long)));
            assertTrue(e.getMessage().contains("Long"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> QuantizedLinear.quantize(randn(14, 16, 64), randn(15, 8), QuantSpec.nf4()));
    }
}
