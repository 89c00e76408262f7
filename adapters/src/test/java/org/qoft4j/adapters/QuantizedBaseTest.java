package org.qoft4j.adapters;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.linear.DenseLinear;
import org.qoft4j.quant.linear.QuantizedLinear;

import static org.junit.jupiter.api.Assertions.*;

/** Adapters around the frozen 4-bit layer (QOFT and QLoRA). */
class QuantizedBaseTest {
    private static QuantizedLinear nf4(long in, long out, long seed) {
        return QuantizedLinear.quantize(Fixtures.randn(seed, out, in).mul(new org.bytedeco.pytorch.Scalar(1.0 / Math.sqrt(in))),
                Fixtures.randn(seed + 1, out), QuantSpec.nf4().withDoubleQuant(true));
    }

    @Test
    void zeroInitAdaptersLeaveThe4BitOutputExactlyUnchanged() {
        try (PointerScope s = new PointerScope(); QuantizedLinear base = nf4(128, 64, 1)) {
            Tensor x = Fixtures.randn(2, 3, 128);
            try (OftLayer oft = new OftLayer(base, OftConfig.defaults());
                 LoraLayer lora = new LoraLayer(base, new LoraConfig(8, 16, 0, false, TargetModules.LLAMA_ALL_LINEAR), 1, null)) {
                assertTrue(torch.equal(oft.forward(x), base.forward(x)));
                assertTrue(torch.equal(lora.forward(x), base.forward(x)));
            }
        }
    }

    @Test
    void mergeOnA4BitBaseGivesFullPrecisionWeightsThatMatchTheAdapter() {
        try (PointerScope s = new PointerScope()) {
            for (QuantType type : new QuantType[] {QuantType.NF4, QuantType.INT4}) {
                try (QuantizedLinear base = QuantizedLinear.quantize(Fixtures.randn(3, 96, 128), Fixtures.randn(4, 96), QuantSpec.of(type))) {
                    try (OftLayer oft = new OftLayer(base, OftConfig.defaults().withBlockSize(16))) {
                        Fixtures.randomize(oft, 0.05, 5);
                        MergeTest.checkMergeAndUnmerge(base, oft, "OFT on " + type);
                    }
                    try (LoraLayer lora = new LoraLayer(base, new LoraConfig(8, 16, 0.1, false, TargetModules.LLAMA_ALL_LINEAR), 1, null)) {
                        Fixtures.randomize(lora, 0.1, 6);
                        lora.train(false);
                        MergeTest.checkMergeAndUnmerge(base, lora, "LoRA on " + type);
                    }
                }
            }
        }
    }

    @Test
    void v1AndV2AgreeOnA4BitBase() {
        try (PointerScope s = new PointerScope(); QuantizedLinear base = nf4(128, 80, 7)) {
            try (OftLayer v2 = new OftLayer(base, OftConfig.defaults()); OftV1Layer v1 = new OftV1Layer(base, OftConfig.defaults())) {
                Fixtures.randomize(v2, 0.05, 8);
                v1.loadStateDict(v2.stateDict());
                Tensor x = Fixtures.randn(9, 5, 128);
                assertTrue(Fixtures.maxAbsDiff(v1.forward(x), v2.forward(x)) < 1e-5);
            }
        }
    }

    /** QOFT: gradients reach oft_R through the dequantize-on-the-fly layer; the packed weight stays frozen. */
    @Test
    void gradientsReachTheOftParameterNotThe4BitBase() {
        try (PointerScope s = new PointerScope(); QuantizedLinear base = nf4(128, 64, 10)) {
            DenseLinear reference = new DenseLinear(base.dequantizedWeight(ScalarType.Float), base.bias());
            try (OftLayer q = new OftLayer(base, OftConfig.defaults()); OftLayer d = new OftLayer(reference, OftConfig.defaults())) {
                Fixtures.randomize(q, 0.05, 11);
                d.loadStateDict(q.stateDict());
                Tensor x = Fixtures.randn(12, 6, 128).set_requires_grad(true);
                Tensor g = Fixtures.randn(13, 6, 64);
                Tensor y = q.forward(x);
                torch.backward(new TensorVector(y), new TensorVector(g), new BoolOptional(false), false, new TensorVector());
                Tensor gradQ = q.rotation().weight().grad().clone();
                assertTrue(gradQ.abs().sum().item_double() > 0);
                assertTrue(x.grad().defined(), "the input gradient flows through the 4-bit layer");
                torch.backward(new TensorVector(d.forward(x.detach())), new TensorVector(g), new BoolOptional(false), false, new TensorVector());
                Tensor gradD = d.rotation().weight().grad();
                assertTrue(Fixtures.maxAbsDiff(gradQ, gradD) < 1e-4 * (1 + gradD.abs().max().item_double()),
                        "same gradient as through the dequantized weight");
                Bnb4bitWeight w = (Bnb4bitWeight) base.weight();
                for (Tensor t : new Tensor[] {w.packed(), w.absmax(), base.bias()}) {
                    assertFalse(t.requires_grad());
                    assertFalse(t.grad().defined());
                }
                assertEquals(1, q.parameters().size());
            }
        }
    }

    @Test
    void bf16ActivationsThroughA4BitBase() {
        try (PointerScope s = new PointerScope(); QuantizedLinear base = nf4(128, 64, 14)) {
            try (OftLayer q = new OftLayer(base, OftConfig.defaults())) {
                Fixtures.randomize(q, 0.05, 15);
                Tensor x = Fixtures.randn(16, 4, 128).to(ScalarType.BFloat16);
                Tensor y = q.forward(x);
                assertEquals(ScalarType.BFloat16, y.scalar_type().intern());
                assertTrue(Fixtures.maxAbsDiff(y, q.forward(x.to(ScalarType.Float))) < 0.1);
                torch.backward(new TensorVector(y.to(ScalarType.Float).sum()), new TensorVector(), new BoolOptional(false), false, new TensorVector());
                assertEquals(ScalarType.Float, q.rotation().weight().grad().scalar_type().intern());
                assertTrue(q.rotation().weight().grad().isfinite().all().item_bool());
            }
        }
    }
}
