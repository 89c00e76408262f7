package org.qoft4j.trainer.model;

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
 * Without grad, a forward pass frees each decoder layer's transient tensors (on a 4-bit base: the dequantized
 * weights) before the next layer runs, instead of leaving them to the caller's scope, which would hold the whole
 * model in full precision until it closes. Observed through a projection that records a tensor it allocates: after
 * the pass (the caller's scope still open) that tensor is freed; with grad, it is still alive.
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
            Projection q = m.layer(0).projections().get("self_attn.q_proj");
            LinearLayer base = q.base();
            q.replace(b -> b, b -> x -> {
                Tensor w = b.dequantizedWeight(x.scalar_type()); // what a 4-bit forward allocates transiently
                seen.add(w);
                return b.forward(x);
            });
            Tensor ids = torch.randint(0, m.config().vocabSize(), new long[] {2, 8});
            AttentionContext ctx = m.causalContext(2, 8);

            Tensor withGrad = m.hidden(ids, ctx);
            assertFalse(seen.get(0).isNull(), "with grad the layer's tensors stay in the caller's scope");
            Tensor noGrad;
            try (NoGradGuard g = new NoGradGuard()) {
                noGrad = m.hidden(ids, ctx);
            }
            assertTrue(seen.get(1).isNull(), "without grad the first layer's dequantized weight is freed before hidden() returns");
            assertFalse(noGrad.isNull(), "the result stays with the caller");
            assertEquals(0.0, noGrad.sub(withGrad).abs().max().item_double(), 1e-6, "scoping does not change the result");
            assertTrue(base == q.base());
            m.close();
        }
    }
}
