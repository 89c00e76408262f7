package org.qoft4j.adapters;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.linear.DenseLinear;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class OftLayerTest {
    private static void backward(Tensor out, Tensor grad) {
        torch.backward(new TensorVector(out), new TensorVector(grad), new BoolOptional(false), false, new TensorVector());
    }

    @Test
    void zeroInitLeavesTheBaseOutputExactlyUnchanged() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(64, 48, true, 1);
            Tensor x = Fixtures.randn(2, 3, 5, 64);
            for (OftConfig cfg : new OftConfig[] {OftConfig.defaults().withBlockSize(16), OftConfig.defaults().withR(8),
                    OftConfig.defaults().withBlockSize(16).withExactCayley(CayleyConvention.NEUMANN_CONSISTENT),
                    OftConfig.defaults().withBlockSize(16).withBlockShare(true)}) {
                try (OftLayer v2 = new OftLayer(base, cfg); OftV1Layer v1 = new OftV1Layer(base, cfg)) {
                    assertEquals(0.0, v2.rotation().weight().abs().max().item_double());
                    assertTrue(torch.equal(v2.forward(x), base.forward(x)), "OFTv2 with zero init equals the base, " + cfg);
                    assertTrue(Fixtures.maxAbsDiff(v1.forward(x), base.forward(x)) < 1e-6, "v1 with zero init, " + cfg);
                }
            }
        }
    }

    @Test
    void parameterShapeIsPefts() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(96, 8, false, 1);
            try (OftLayer a = new OftLayer(base, OftConfig.defaults());
                 OftLayer b = new OftLayer(base, OftConfig.defaults().withR(4));
                 OftLayer c = new OftLayer(base, OftConfig.defaults().withBlockSize(32).withBlockShare(true))) {
                assertArrayEquals(new long[] {3, 32 * 31 / 2}, Tensors.shape(a.rotation().weight()));
                assertArrayEquals(new long[] {4, 24 * 23 / 2}, Tensors.shape(b.rotation().weight()));
                assertArrayEquals(new long[] {1, 32 * 31 / 2}, Tensors.shape(c.rotation().weight()));
                assertEquals(3L * 496, a.trainableParameterCount());
                assertEquals(ScalarType.Float, a.rotation().weight().scalar_type().intern());
                assertTrue(a.rotation().weight().requires_grad());
                assertEquals(Map.of("oft_R.weight", a.rotation().weight()).keySet(), a.stateDict().keySet());
            }
        }
    }

    @Test
    void v1AndV2GiveTheSameOutputs() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(128, 80, true, 3);
            Tensor x = Fixtures.randn(4, 2, 7, 128);
            for (OftConfig cfg : new OftConfig[] {OftConfig.defaults().withBlockSize(32),
                    OftConfig.defaults().withBlockSize(16).withNeumannTerms(4),
                    OftConfig.defaults().withBlockSize(32).withExactCayley(CayleyConvention.PEFT_EXACT),
                    OftConfig.defaults().withBlockSize(8).withBlockShare(true)}) {
                try (OftLayer v2 = new OftLayer(base, cfg); OftV1Layer v1 = new OftV1Layer(base, cfg)) {
                    Fixtures.randomize(v2, 0.05, 10);
                    v1.loadStateDict(v2.stateDict());
                    Tensor y2 = v2.forward(x), y1 = v1.forward(x);
                    assertTrue(Fixtures.maxAbsDiff(y1, y2) < 1e-5, cfg + ": " + Fixtures.maxAbsDiff(y1, y2));
                    assertTrue(Fixtures.maxAbsDiff(y2, base.forward(x)) > 1e-3, "the adapter does change the output");
                }
            }
        }
    }

    @Test
    void gradientsReachTheOftParameterNotTheFrozenBase() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(64, 32, true, 5);
            try (OftLayer layer = new OftLayer(base, OftConfig.defaults().withBlockSize(16))) {
                Tensor x = Fixtures.randn(6, 4, 64);
                Tensor y = layer.forward(x);
                assertTrue(y.requires_grad());
                backward(y, Fixtures.randn(7, 4, 32));
                Tensor g = layer.rotation().weight().grad();
                assertTrue(g.defined() && g.abs().sum().item_double() > 0, "gradient reaches oft_R even at R = I");
                assertFalse(base.weight().requires_grad());
                assertFalse(base.weight().grad().defined(), "the frozen weight gets no gradient");
            }
        }
    }

    @Test
    void bf16ActivationsAreRotatedInFp32AndCastBackAsPeftDoes() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(64, 40, true, 8);
            try (OftLayer layer = new OftLayer(base, OftConfig.defaults().withBlockSize(16))) {
                Fixtures.randomize(layer, 0.05, 9);
                Tensor x = Fixtures.randn(10, 3, 64).to(ScalarType.BFloat16);
                Tensor y = layer.forward(x);
                assertEquals(ScalarType.BFloat16, y.scalar_type().intern());
                // PEFT: x.to(fp32) -> rotate in fp32 -> .to(bf16) -> base in bf16
                Tensor expected = base.forward(OftRotation.rotate(x.to(ScalarType.Float), layer.rotation().blocks()).to(ScalarType.BFloat16));
                assertTrue(torch.equal(y, expected));
                Tensor fp32 = layer.forward(x.to(ScalarType.Float));
                assertTrue(Fixtures.maxAbsDiff(y, fp32) < 0.05, "bf16 result within bf16 rounding of fp32");
                backward(y, torch.ones_like(y));
                Tensor g = layer.rotation().weight().grad();
                assertEquals(ScalarType.Float, g.scalar_type().intern());
                assertTrue(g.isfinite().all().item_bool() && g.abs().sum().item_double() > 0);
            }
        }
    }

    @Test
    void blockShareRepeatsOneBlock() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(48, 16, false, 11);
            OftConfig shared = OftConfig.defaults().withBlockSize(12).withBlockShare(true);
            try (OftLayer a = new OftLayer(base, shared); OftLayer b = new OftLayer(base, shared.withBlockShare(false))) {
                Fixtures.randomize(a, 0.1, 12);
                Tensor row = a.rotation().weight().detach();
                b.loadStateDict(Map.of(OftAdapter.WEIGHT_KEY, row.expand(4, row.size(1)).contiguous()));
                Tensor x = Fixtures.randn(13, 5, 48);
                assertTrue(Fixtures.maxAbsDiff(a.forward(x), b.forward(x)) < 1e-6);
                assertEquals(66, a.trainableParameterCount());
                backward(a.forward(x), Fixtures.randn(14, 5, 16));
                assertArrayEquals(new long[] {1, 66}, Tensors.shape(a.rotation().weight().grad()));
            }
        }
    }

    @Test
    void coftKeepsQInsideItsRadius() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(32, 16, false, 15);
            double eps = 1e-3;
            OftConfig cfg = OftConfig.defaults().withBlockSize(8).withCoft(true, eps);
            try (OftLayer coft = new OftLayer(base, cfg); OftLayer plain = new OftLayer(base, cfg.withCoft(false, eps))) {
                Fixtures.randomize(coft, 0.5, 16);
                Tensor x = Fixtures.randn(17, 3, 32);
                Tensor y = coft.forward(x);
                // after the forward, every block's Q has Frobenius norm eps / sqrt(4 blocks)
                Tensor v = coft.rotation().weight().detach();
                double[] qn = Tensors.toDoubles(v.norm(new org.bytedeco.pytorch.ScalarOptional(new Scalar(2.0)), new long[] {1}, false).mul(new Scalar(Math.sqrt(2))));
                for (double n : qn) assertEquals(eps / 2, n, 1e-9);
                plain.loadStateDict(Map.of(OftAdapter.WEIGHT_KEY, v.clone()));
                assertTrue(Fixtures.maxAbsDiff(y, plain.forward(x)) < 1e-6, "COFT computes with the projected parameter");
                assertTrue(Fixtures.maxAbsDiff(y, base.forward(x)) < 1e-2, "a tiny radius keeps R close to I");
            }
        }
    }

    @Test
    void blockSizeFollowsPeftsNearestDivisor() {
        assertEquals(new BlockSizes.Layout(4, 25), BlockSizes.resolve(100, 0, 32, "t"));   // 25 (7 away) beats 50
        assertEquals(new BlockSizes.Layout(5, 6), BlockSizes.resolve(30, 0, 8, "t"));      // 6 and 10 tie: lower
        assertEquals(new BlockSizes.Layout(1, 30), BlockSizes.resolve(30, 0, 64, "t"));    // larger than in: in
        assertEquals(new BlockSizes.Layout(6, 16), BlockSizes.resolve(96, 7, 0, "t"));     // r: 6 and 8 tie: lower
        assertEquals(new BlockSizes.Layout(64, 32), BlockSizes.resolve(2048, 0, 32, "t"));
        assertEquals(new BlockSizes.Layout(88, 32), BlockSizes.resolve(2816, 0, 32, "t"));
        assertEquals(32, BlockSizes.blockSizeOfRow(496));
        assertEquals(96, BlockSizes.blockSizeOfRow(4560));
        assertEquals(-1, BlockSizes.blockSizeOfRow(497));
        try (PointerScope s = new PointerScope(); OftLayer l = new OftLayer(Fixtures.dense(100, 4, false, 1), OftConfig.defaults())) {
            assertEquals(25, l.rotation().blockSize());
        }
    }

    @Test
    void badInputAndConfigAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> OftConfig.defaults().withNeumannTerms(9));
        assertThrows(IllegalArgumentException.class, () -> OftConfig.defaults().withNeumannTerms(0));
        assertThrows(IllegalArgumentException.class, () -> new OftConfig(4, 32, 5, true, CayleyConvention.NEUMANN_CONSISTENT,
                false, false, 6e-5, true, TargetModules.LLAMA_ALL_LINEAR));
        try (PointerScope s = new PointerScope(); OftLayer l = new OftLayer(Fixtures.dense(32, 4, false, 1), OftConfig.defaults())) {
            var e = assertThrows(IllegalArgumentException.class, () -> l.forward(Fixtures.randn(1, 2, 31)));
            assertTrue(e.getMessage().contains("31"));
            var e2 = assertThrows(IllegalArgumentException.class,
                    () -> l.loadStateDict(Map.of(OftAdapter.WEIGHT_KEY, Fixtures.randn(1, 2, 496))));
            assertTrue(e2.getMessage().contains("oft_R.weight") && e2.getMessage().contains("[1, 496]"), e2.getMessage());
        }
    }

    @Test
    void randomInitIsSeeded() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(32, 4, false, 1);
            OftConfig cfg = OftConfig.defaults().withBlockSize(8).withInitWeights(false);
            try (OftLayer a = new OftLayer(base, cfg, "a", 7, null); OftLayer b = new OftLayer(base, cfg, "b", 7, null);
                 OftLayer c = new OftLayer(base, cfg, "c", 8, null)) {
                assertTrue(torch.equal(a.rotation().weight(), b.rotation().weight()));
                assertFalse(torch.equal(a.rotation().weight(), c.rotation().weight()));
                double std = Math.sqrt(a.rotation().weight().detach().pow(new Scalar(2)).mean().item_double());
                assertEquals(0.1, std, 0.03);
            }
        }
    }
}
