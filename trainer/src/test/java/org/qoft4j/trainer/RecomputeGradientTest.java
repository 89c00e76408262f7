package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.qoft4j.model.NextTokenLoss;
import org.qoft4j.model.AdapterSet;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.qoft4j.adapters.AdapterConfig;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.adapters.LoraConfig;
import org.qoft4j.adapters.LoraLayer;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.TargetModules;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.core.Tensors;
import org.qoft4j.data.Batch;
import org.qoft4j.data.DataLoader;
import org.qoft4j.model.AttentionContext;
import org.qoft4j.model.DecoderLayer;
import org.qoft4j.model.LlamaModel;

/** Layer-wise recomputation gives the gradients of plain autograd over the whole model (fp32, 1e-6). */
class RecomputeGradientTest {
    static final double TOL = 1e-6;

    static Stream<Arguments> cases() {
        return Stream.of(Arguments.of("oft", "nf4"), Arguments.of("oft", "none"), Arguments.of("lora", "nf4"), Arguments.of("lora", "none"));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void recomputeEqualsPlainAutograd(String adapter, String quant) {
        AdapterConfig ac = adapter.equals("oft") ? OftConfig.defaults().withBlockSize(16).withInitWeights(false)
                : new LoraConfig(4, 8, 0, false, TargetModules.LLAMA_ALL_LINEAR);
        compare(ac, quant.equals("nf4") ? QuantSpec.nf4() : null);
    }

    /**
     * The top layers keep their first pass's graph instead of being recomputed (memory-budget): 2 layers (all of
     * TinyLlama's) and the lean single top layer give plain autograd's gradients, with dropout replayed the same way.
     */
    @ParameterizedTest(name = "top {0} layer(s) kept")
    @CsvSource({"1", "2", "5"})
    void keptGraphsGiveTheSameGradients(int kept) {
        compare(new LoraConfig(4, 8, 0.3, false, TargetModules.LLAMA_ALL_LINEAR), QuantSpec.nf4(), kept);
        compare(OftConfig.defaults().withBlockSize(16).withInitWeights(false), QuantSpec.nf4(), kept);
    }

    /** Dropout draws from the default generator: the recomputation replays each layer's generator state, so the masks match. */
    @Test
    void recomputeReplaysDropoutMasks() {
        compare(new LoraConfig(4, 8, 0.3, false, TargetModules.LLAMA_ALL_LINEAR), QuantSpec.nf4());
    }

    /** Only the second layer adapted: the first layer needs no backward, and the gradients still match. */
    @Test
    void adaptersOnUpperLayerOnly() {
        compare(OftConfig.defaults().withBlockSize(16).withInitWeights(false).withTargetModules(TargetModules.regex("model\\.layers\\.1\\..*")), null);
    }

    private static void compare(AdapterConfig ac, QuantSpec quant) {
        compare(ac, quant, 1);
    }

    private static void compare(AdapterConfig ac, QuantSpec quant, int kept) {
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(quant, 5); AdapterSet a = AdapterSet.inject(m, ac, 3)) {
            randomizeLoraB(a);
            Batch batch = new DataLoader(TinyLlama.countUp(6, 20, 9), 48, 2, true, false, 0, 0).next();
            double scale = 1.0 / batch.scoredTokens();
            RngState rng = new RngState(m.device());

            rng.seed(11);
            BackwardPass.Loss rec = new RecomputeStep(m, rng, KeptLayers.fixed(m, kept)).run(batch, scale);
            List<float[]> recGrads = grads(a);
            rng.seed(11);
            BackwardPass.Loss full = new FullGraphStep(m).run(batch, scale);
            List<float[]> fullGrads = grads(a);

            assertEquals(full.tokens(), rec.tokens());
            assertEquals(full.nllSum().item_double(), rec.nllSum().item_double(), 1e-9 * Math.abs(full.nllSum().item_double()), "loss");
            double worst = 0, largest = 0;
            for (int i = 0; i < recGrads.size(); i++)
                for (int j = 0; j < recGrads.get(i).length; j++) {
                    worst = Math.max(worst, Math.abs(recGrads.get(i)[j] - fullGrads.get(i)[j]));
                    largest = Math.max(largest, Math.abs(fullGrads.get(i)[j]));
                }
            assertTrue(largest > 1e-3, "gradients are not trivially zero: largest " + largest);
            assertTrue(worst <= TOL, "max |recompute - autograd| = " + worst + " (largest gradient " + largest + ")");
        }
    }

    /** The chunked head loss gives the loss and gradients of the model's own {@code nextTokenNll} under plain autograd. */
    @Test
    void headLossMatchesTheModelsLoss() {
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build((QuantSpec) null, 5);
             AdapterSet a = AdapterSet.inject(m, OftConfig.defaults().withBlockSize(16).withInitWeights(false), 3)) {
            Batch batch = new DataLoader(TinyLlama.countUp(6, 20, 9), 48, 2, true, false, 0, 0).next();
            double scale = 1.0 / batch.scoredTokens();
            BackwardPass.Loss ours = new FullGraphStep(m).run(batch, scale);
            List<float[]> ourGrads = grads(a);

            AttentionContext ctx = m.packedContext(batch.positionIdsTensor(), batch.sequenceIdsTensor());
            Tensor h = m.embed(batch.inputIdsTensor());
            for (DecoderLayer l : m.layers()) h = l.forward(h, ctx);
            NextTokenLoss.Sum nll = NextTokenLoss.value(m, h, batch.labelsTensor());
            nll.nll().mul(new Scalar(scale)).backward();
            List<float[]> refGrads = grads(a);

            assertEquals(nll.tokens(), ours.tokens());
            assertEquals(nll.nll().item_double(), ours.nllSum().item_double(), 1e-4);
            double worst = 0;
            for (int i = 0; i < ourGrads.size(); i++)
                for (int j = 0; j < ourGrads.get(i).length; j++) worst = Math.max(worst, Math.abs(ourGrads.get(i)[j] - refGrads.get(i)[j]));
            assertTrue(worst <= TOL, "max |head loss grad - nextTokenNll grad| = " + worst);
        }
    }

    /** Copies and clears every adapter gradient. */
    static List<float[]> grads(AdapterSet a) {
        List<float[]> out = new ArrayList<>();
        for (Tensor p : a.parameters()) {
            out.add(Tensors.toFloats(p.grad()));
            p.grad().zero_();
        }
        return out;
    }

    /** LoRA's B starts at zero, which would make A's gradient zero too: give it values. */
    static void randomizeLoraB(AdapterSet a) {
        for (AdapterLayer l : a.layers().values()) {
            if (!(l instanceof LoraLayer lora)) continue;
            try (NoGradGuard g = new NoGradGuard()) {
                lora.b().copy_(torch.randn(lora.b().sizes().vec().get()).mul(new Scalar(0.1)));
            }
        }
    }

}
