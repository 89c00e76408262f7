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

import static org.junit.jupiter.api.Assertions.*;

class LoraLayerTest {
    private static LoraConfig cfg(int r, double alpha, double dropout, boolean rs) {
        return new LoraConfig(r, alpha, dropout, rs, TargetModules.LLAMA_ALL_LINEAR);
    }

    @Test
    void zeroBLeavesTheBaseOutputExactlyUnchanged() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(64, 48, true, 1);
            try (LoraLayer lora = new LoraLayer(base, cfg(8, 16, 0.0, false), 3, null)) {
                Tensor x = Fixtures.randn(2, 3, 5, 64);
                assertTrue(torch.equal(lora.forward(x), base.forward(x)));
                assertEquals(0.0, lora.b().abs().max().item_double());
                assertArrayEquals(new long[] {8, 64}, Tensors.shape(lora.a()));
                assertArrayEquals(new long[] {48, 8}, Tensors.shape(lora.b()));
                assertEquals(8 * 64 + 48 * 8, lora.trainableParameterCount());
            }
        }
    }

    @Test
    void aIsKaimingUniformAndSeeded() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(256, 8, false, 1);
            try (LoraLayer a = new LoraLayer(base, cfg(16, 16, 0, false), 42, null);
                 LoraLayer b = new LoraLayer(base, cfg(16, 16, 0, false), 42, null);
                 LoraLayer c = new LoraLayer(base, cfg(16, 16, 0, false), 43, null)) {
                assertTrue(torch.equal(a.a(), b.a()));
                assertFalse(torch.equal(a.a(), c.a()));
                double bound = 1 / Math.sqrt(256);
                double max = a.a().abs().max().item_double();
                assertTrue(max <= bound && max > 0.99 * bound, "uniform in ±1/sqrt(in): max " + max);
                // variance of U(-b, b) is b^2 / 3
                double var = a.a().detach().pow(new Scalar(2)).mean().item_double();
                assertEquals(bound * bound / 3, var, 0.1 * bound * bound / 3);
            }
        }
    }

    @Test
    void forwardIsBasePlusScaledLowRank() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(32, 24, true, 4);
            Tensor x = Fixtures.randn(5, 6, 32);
            for (boolean rs : new boolean[] {false, true}) {
                try (LoraLayer lora = new LoraLayer(base, cfg(4, 8, 0, rs), 1, null)) {
                    Fixtures.randomize(lora, 0.2, 6);
                    double scaling = rs ? 8 / 2.0 : 8 / 4.0;
                    assertEquals(scaling, lora.config().scaling());
                    Tensor expected = base.forward(x).add(torch.matmul(torch.matmul(x, lora.a().t()), lora.b().t()).mul(new Scalar(scaling)));
                    assertTrue(Fixtures.maxAbsDiff(lora.forward(x), expected) < 1e-6);
                }
            }
        }
    }

    @Test
    void dropoutOnlyInTrainingMode() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(32, 8, false, 4);
            try (LoraLayer lora = new LoraLayer(base, cfg(4, 8, 0.5, false), 1, null);
                 LoraLayer plain = new LoraLayer(base, cfg(4, 8, 0.0, false), 1, null)) {
                Fixtures.randomize(lora, 0.2, 6);
                plain.loadStateDict(lora.stateDict());
                Tensor x = Fixtures.randn(7, 16, 32);
                lora.train(false);
                assertTrue(torch.equal(lora.forward(x), plain.forward(x)), "eval mode: no dropout");
                lora.train(true);
                torch.manual_seed(1);
                Tensor t1 = lora.forward(x);
                assertTrue(Fixtures.maxAbsDiff(t1, plain.forward(x)) > 1e-3, "training mode drops inputs");
                torch.manual_seed(1);
                assertTrue(torch.equal(t1, lora.forward(x)), "dropout is reproducible under torch.manual_seed");
            }
        }
    }

    @Test
    void bf16ActivationsAddInFp32() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(32, 16, true, 4);
            try (LoraLayer lora = new LoraLayer(base, cfg(4, 8, 0, false), 1, null)) {
                Fixtures.randomize(lora, 0.2, 6);
                Tensor x = Fixtures.randn(8, 3, 32).to(ScalarType.BFloat16);
                Tensor y = lora.forward(x);
                assertEquals(ScalarType.BFloat16, y.scalar_type().intern());
                Tensor xf = x.to(ScalarType.Float);
                Tensor expected = base.forward(x).to(ScalarType.Float)
                        .add(torch.matmul(torch.matmul(xf, lora.a().t()), lora.b().t()).mul(new Scalar(2.0))).to(ScalarType.BFloat16);
                assertTrue(torch.equal(y, expected));
                torch.backward(new TensorVector(y.to(ScalarType.Float).sum()), new TensorVector(), new BoolOptional(false), false, new TensorVector());
                assertEquals(ScalarType.Float, lora.b().grad().scalar_type().intern());
                assertTrue(lora.a().grad().abs().sum().item_double() > 0);
            }
        }
    }
}
