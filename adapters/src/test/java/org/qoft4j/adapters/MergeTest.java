package org.qoft4j.adapters;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.linear.DenseLinear;
import org.qoft4j.quant.linear.LinearLayer;

import static org.junit.jupiter.api.Assertions.*;

class MergeTest {
    static void checkMergeAndUnmerge(LinearLayer base, AdapterLayer adapter, String what) {
        Tensor x = Fixtures.randn(20, 4, 9, base.inFeatures());
        DenseLinear merged = Merge.merge(adapter, ScalarType.Float);
        double err = Fixtures.maxAbsDiff(merged.forward(x), adapter.forward(x));
        assertTrue(err < 1e-4, what + ": merged forward vs adapter forward " + err);
        assertTrue(Fixtures.maxAbsDiff(merged.forward(x), base.forward(x)) > 1e-3, what + ": the adapter is not trivial");
        Tensor restored = Merge.unmergedWeight(merged.weight(), adapter);
        double back = Fixtures.maxAbsDiff(restored, base.dequantizedWeight(ScalarType.Float));
        assertTrue(back < 1e-5, what + ": unmerge restores the base weight, " + back);
        merged.weight().releaseReference();
    }

    @Test
    void oftMergeOnFullPrecisionBase() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(128, 96, true, 1);
            for (OftConfig cfg : new OftConfig[] {OftConfig.defaults(), OftConfig.defaults().withBlockSize(16).withBlockShare(true),
                    OftConfig.defaults().withExactCayley(CayleyConvention.NEUMANN_CONSISTENT)}) {
                try (OftLayer oft = new OftLayer(base, cfg)) {
                    Fixtures.randomize(oft, 0.05, 2);
                    checkMergeAndUnmerge(base, oft, "OFT " + cfg);
                }
            }
        }
    }

    @Test
    void loraMergeOnFullPrecisionBase() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(128, 96, true, 1);
            try (LoraLayer lora = new LoraLayer(base, new LoraConfig(8, 16, 0, false, TargetModules.LLAMA_ALL_LINEAR), 1, null)) {
                Fixtures.randomize(lora, 0.1, 3);
                lora.train(false);
                checkMergeAndUnmerge(base, lora, "LoRA");
            }
        }
    }

    @Test
    void unmergeUsesTheInverseNotTheTranspose() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = Fixtures.dense(64, 32, false, 1);
            try (OftLayer oft = new OftLayer(base, OftConfig.defaults().withBlockSize(16))) {
                Fixtures.randomize(oft, 0.2, 4); // large Q: the N = 5 series is visibly non-orthogonal
                Tensor merged = Merge.mergedWeight(oft);
                Tensor r = oft.rotation().blocks().detach();
                // undoing with R (the transpose of R^T) would leave an error of the size of R^T R - I
                Tensor viaTranspose = OftV1Layer.blockDiagonal(r);
                Tensor wrong = org.bytedeco.pytorch.global.torch.matmul(merged, viaTranspose);
                double orthErr = OrthogonalityDiagnostics.measure("x", oft.rotation()).maxOrthogonalityError();
                assertTrue(orthErr > 1e-4, "test premise: R is not orthogonal, " + orthErr);
                assertTrue(Fixtures.maxAbsDiff(wrong, base.weight()) > 1e-5);
                assertTrue(Fixtures.maxAbsDiff(Merge.unmergedWeight(merged, oft), base.weight()) < 1e-5);
            }
        }
    }
}
