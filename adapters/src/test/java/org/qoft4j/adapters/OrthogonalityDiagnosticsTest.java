package org.qoft4j.adapters;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.linear.DenseLinear;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class OrthogonalityDiagnosticsTest {
    @Test
    void reportsErrorAndQNormPerOftLayer() {
        try (PointerScope s = new PointerScope()) {
            DenseLinear base = new DenseLinear(torch.eye(4), null);
            Map<String, AdapterLayer> layers = new LinkedHashMap<>();
            OftLayer zero = new OftLayer(base, OftConfig.defaults().withBlockSize(2));
            OftLayer worked = new OftLayer(base, OftConfig.defaults().withBlockSize(2));
            worked.loadStateDict(Map.of(OftAdapter.WEIGHT_KEY, Tensors.of(new float[] {0.1f, -0.2f}, 2, 1)));
            layers.put("model.layers.1.mlp.up_proj", worked);
            layers.put("model.layers.0.mlp.up_proj", zero);
            layers.put("model.layers.0.mlp.lora", new LoraLayer(base, new LoraConfig(2, 2, 0, false, TargetModules.of("x"))));
            List<OrthogonalityDiagnostics.LayerOrthogonality> d = OrthogonalityDiagnostics.measure(layers);
            assertEquals(2, d.size());
            assertEquals("model.layers.0.mlp.up_proj", d.get(0).module());
            assertEquals(0.0, d.get(0).maxOrthogonalityError());
            assertEquals(0.0, d.get(0).maxQNorm());
            // block 1 of the worked example: q = -0.2, R^T R = (1 - q^4)^2 I for N = 5 (b = 2: Q^2 = -q^2 I)
            double q = 0.2f;
            assertEquals(Math.sqrt(2) * q, d.get(1).maxQNorm(), 1e-7);
            assertEquals(1 - Math.pow(1 - Math.pow(q, 4), 2), d.get(1).maxOrthogonalityError(), 1e-6);
            layers.values().forEach(AdapterLayer::close);
        }
    }
}
