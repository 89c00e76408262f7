package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.core.memory.FreeMemory;
import org.qoft4j.core.memory.NativeHeap;
import org.qoft4j.data.Batch;
import org.qoft4j.data.DataLoader;
import org.qoft4j.model.AdapterSet;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.quant.QuantSpec;

/** The plan of {@code memory-budget}: how many top layers keep their first-pass graph. */
class KeptLayersTest {
    private static final long MIB = 1L << 20;

    @Test
    void countAtTheMeasuredSize() {
        assertEquals(3, KeptLayers.count(100 * MIB, 30 * MIB, 2, 128, 2, 128, 8));
        assertEquals(8, KeptLayers.count(1000 * MIB, 30 * MIB, 2, 128, 2, 128, 8), "at most every adaptable layer");
        assertEquals(1, KeptLayers.count(10 * MIB, 30 * MIB, 2, 128, 2, 128, 8), "the top layer always");
    }

    /** A longer micro-batch than the measured one keeps fewer graphs: tokens, and length once more for attention. */
    @Test
    void aLongerBatchKeepsFewer() {
        assertEquals(8, KeptLayers.count(240 * MIB, 30 * MIB, 2, 128, 2, 128, 8));
        assertEquals(4, KeptLayers.count(240 * MIB, 30 * MIB, 2, 128, 4, 128, 8), "twice the rows: half");
        assertEquals(2, KeptLayers.count(240 * MIB, 30 * MIB, 2, 128, 2, 256, 8), "twice the length: a quarter");
        assertEquals(8, KeptLayers.count(240 * MIB, 30 * MIB, 2, 128, 2, 64, 8), "shorter: no fewer");
    }

    @Test
    void autoTakesHalfOfWhatIsFreeBeyondTheStepsTransientPeak() {
        // 10 GiB free, the step peaked 1 GiB above now: half of 9 GiB for graphs, plus the measured one
        assertEquals(50 * MIB + 4608 * MIB, KeptLayers.autoAllowance(50 * MIB, 80 * MIB, 10240 * MIB, 3072 * MIB, 2048 * MIB, 1));
        assertEquals(50 * MIB + 2304 * MIB, KeptLayers.autoAllowance(50 * MIB, 80 * MIB, 10240 * MIB, 3072 * MIB, 2048 * MIB, 2),
                "two processes on the machine share it");
        assertEquals(80 * MIB, KeptLayers.autoAllowance(50 * MIB, 80 * MIB, 512 * MIB, 3072 * MIB, 2048 * MIB, 1),
                "memory scarce: the floor (what lean recomputation's peak already held)");
    }

    @Test
    void badBudgetsNameWhatIsExpected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KeptLayers.parseCheck("plenty"));
        assertEquals("memory-budget must be lean, auto or a size such as 12GiB or 512MiB, got 'plenty'", e.getMessage());
        assertEquals(12L << 30, KeptLayers.parseSize("12GiB"));
        assertEquals(512L << 20, KeptLayers.parseSize("512mib"));
    }

    /** Only lean gives freed memory back after each layer (its purpose is the smallest peak); it changes no number. */
    @Test
    void leanReturnsFreedMemoryAndComputesTheSame() {
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5);
             AdapterSet a = AdapterSet.inject(m, OftConfig.defaults().withBlockSize(16).withInitWeights(false), 3)) {
            KeptLayers lean = new KeptLayers(m, ScalarType.Float, "lean", m.numLayers());
            assertEquals(true, lean.returnsFreedMemory());
            assertEquals(false, new KeptLayers(m, ScalarType.Float, "auto", m.numLayers()).returnsFreedMemory());
            assertEquals(false, new KeptLayers(m, ScalarType.Float, "2GiB", m.numLayers()).returnsFreedMemory());
            assertEquals(false, KeptLayers.fixed(m, 1).returnsFreedMemory());
            Batch batch = new DataLoader(TinyLlama.countUp(6, 20, 9), 48, 2, true, false, 0, 0).next();
            RngState rng = new RngState(m.device());
            double viaLean = new RecomputeStep(m, rng, lean).run(batch, 1.0).nllSum().item_double();
            double viaFixed = new RecomputeStep(m, rng, KeptLayers.fixed(m, 1)).run(batch, 1.0).nllSum().item_double();
            assertEquals(viaFixed, viaLean, 0.0);
        }
    }

    /** On a machine with memory to spare, auto keeps every layer's graph of a small model (the fastest plan), and lean only the top one. */
    @Test
    void autoKeepsEveryLayerWhenMemoryIsFree() {
        Assumptions.assumeTrue(NativeHeap.available(), "the graph is measured through glibc's mallinfo2");
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5);
             AdapterSet a = AdapterSet.inject(m, OftConfig.defaults().withBlockSize(16).withInitWeights(false), 3)) {
            Assumptions.assumeTrue(FreeMemory.availableBytes(m.device()).orElse(0) > 1L << 30, "needs 1 GiB free");
            // 8 rows: the graph outweighs a layer's weights, so the floor alone (lean's peak) would keep the top layer only
            Batch batch = new DataLoader(TinyLlama.countUp(32, 20, 9), 48, 8, true, false, 0, 0).next();
            KeptLayers auto = new KeptLayers(m, ScalarType.Float, "auto", m.numLayers());
            KeptLayers lean = new KeptLayers(m, ScalarType.Float, "lean", m.numLayers());
            RngState rng = new RngState(m.device());
            for (KeptLayers k : new KeptLayers[] {auto, lean}) new RecomputeStep(m, rng, k).run(batch, 1.0 / batch.scoredTokens());
            assertEquals(m.numLayers(), auto.layers(batch.size(), batch.length()));
            assertEquals(1, lean.layers(batch.size(), batch.length()));
        }
    }
}
