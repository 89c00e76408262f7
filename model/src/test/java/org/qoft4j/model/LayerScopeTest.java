package org.qoft4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.linear.LinearLayer;

/**
 * {@link LayerRunner}'s scope policy: without grad, a forward pass frees each decoder layer's transient tensors (on a
 * 4-bit base: the dequantized weights) before the next layer runs, instead of leaving them to the caller's scope,
 * which would hold the whole model in full precision until it closes. Observed through a layer function that
 * records a tensor it allocates: after the pass (the caller's scope still open) that tensor is freed; with grad, it
 * is still alive.
 */
class LayerScopeTest {
    @Test
    void noGradPassFreesEachLayersTensorsBeforeReturning() {
        try (PointerScope outer = new PointerScope()) {
            LlamaConfig c = TinyModels.parse(TinyModels.config("llama"));
            Map<String, Tensor> weights = TinyModels.randomWeights(c, 3);
            LlamaModel m = ModelLoader.build(c, TensorSource.of("tiny", weights), LoadOptions.cpu().withQuant(QuantSpec.nf4()));
            TinyModels.release(weights);
            List<Tensor> seen = new ArrayList<>();
            LinearLayer q = m.layer(0).projection("self_attn.q_proj").base();
            Tensor ids = torch.randint(0, m.config().vocabSize(), new long[] {2, 8});
            AttentionContext ctx = m.causalContext(2, 8);
            LayerRunner.LayerForward recording = (l, x) -> {
                if (l.index() == 0) seen.add(q.dequantizedWeight(x.scalar_type())); // what a 4-bit forward allocates transiently
                return l.forward(x, ctx);
            };

            Tensor withGrad = LayerRunner.forward(m, m.embed(ids), recording, LayerRunner.BeforeLayer.NONE);
            assertFalse(seen.get(0).isNull(), "with grad the layer's tensors stay in the caller's scope");
            Tensor noGrad;
            try (NoGradGuard g = new NoGradGuard()) {
                noGrad = LayerRunner.forward(m, m.embed(ids), recording, LayerRunner.BeforeLayer.NONE);
            }
            assertTrue(seen.get(1).isNull(), "without grad the first layer's dequantized weight is freed before the pass returns");
            assertFalse(noGrad.isNull(), "the result stays with the caller");
            assertEquals(0.0, noGrad.sub(withGrad).abs().max().item_double(), 1e-6, "scoping does not change the result");
            assertEquals(0.0, noGrad.sub(m.hidden(ids, ctx)).abs().max().item_double(), 1e-6, "hidden() runs the same layers");
            m.close();
        }
    }
}
