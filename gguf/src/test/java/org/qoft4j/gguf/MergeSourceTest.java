package org.qoft4j.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.adapters.LoraConfig;
import org.qoft4j.adapters.LoraLayer;
import org.qoft4j.adapters.TargetModules;
import org.qoft4j.adapters.peft.PeftAdapterIO;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.hf.ModelQuantizer;
import org.qoft4j.quant.linear.DenseLinear;
import org.qoft4j.core.safetensors.HfCheckpoint;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.data.TestData;

/**
 * What the adapter is folded into, and that the output says so: the original full-precision weights by default, the
 * dequantized 4-bit weights of a 4-bit checkpoint (the only ones it has), or with {@code --quant nf4} the weights
 * round-tripped through NF4 as the adapter was trained. A LoRA adapter with non-zero B on every v_proj (not permuted
 * for llama.cpp, so the f32 tensor in the file is the merged weight itself) is checked against W + (alpha/r) B A.
 */
class MergeSourceTest {
    static final String V0 = "model.layers.0.self_attn.v_proj";

    @TempDir
    Path tmp;
    Path adapter;
    Map<String, float[]> loraDelta = new LinkedHashMap<>(); // module -> (alpha/r) B A, [out * in]

    @BeforeEach
    void loraOnEveryVProj() {
        adapter = tmp.resolve("adapter");
        LoraConfig cfg = new LoraConfig(4, 8, 0, false, TargetModules.of("v_proj"));
        Map<String, LoraLayer> layers = new LinkedHashMap<>();
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            for (int i = 0; i < 4; i++) {
                LoraLayer l = new LoraLayer(new DenseLinear(torch.zeros(64, 128), null), cfg, i, null);
                l.b().copy_(torch.randn(64, 4).mul(new Scalar(0.05)));
                String m = "model.layers." + i + ".self_attn.v_proj";
                layers.put(m, l);
                loraDelta.put(m, Tensors.toFloats(torch.matmul(l.b(), l.a()).mul(new Scalar(cfg.scaling()))));
            }
            PeftAdapterIO.write(adapter, layers, "tiny-llama");
        }
    }

    private float[] exportedV0(GgufExport.Report r) {
        return GgufFile.read(r.out()).floats("blk.0.attn_v.weight");
    }

    private static float[] plus(float[] w, float[] d) {
        float[] o = w.clone();
        for (int i = 0; i < o.length; i++) o[i] += d[i];
        return o;
    }

    private static float[] baseWeight(Path dir, QuantSpec quant) {
        try (LlamaModel m = ModelLoader.load(dir, LoadOptions.cpu().withQuant(quant))) {
            return Tensors.toFloats(m.projection(V0).base().dequantizedWeight(ScalarType.Float));
        }
    }

    @Test
    void intoTheOriginalWeightsByDefault() {
        GgufExport.Report r = GgufExport.run(GgufExport.Options.of(TestData.model(), tmp.resolve("a.gguf"), GgufFileType.F32).withAdapter(adapter), l -> {});
        assertTrue(r.merge().contains("4 LORA adapter layers") && r.merge().contains("merged into the original full-precision weights"), r.merge());
        float[] w;
        try (HfCheckpoint c = HfCheckpoint.open(TestData.model())) {
            w = Tensors.toFloats(c.load(V0 + ".weight"));
        }
        assertArrayEquals(plus(w, loraDelta.get(V0)), exportedV0(r), 1e-6f);
    }

    @Test
    void intoTheDequantizedWeightsOfA4BitCheckpoint() {
        Path q = tmp.resolve("tiny-nf4");
        ModelQuantizer.quantize(TestData.model(), q, ModelQuantizer.Options.of(QuantSpec.of(QuantType.NF4)));
        GgufExport.Report r = GgufExport.run(GgufExport.Options.of(q, tmp.resolve("b.gguf"), GgufFileType.F32).withAdapter(adapter), l -> {});
        assertTrue(r.merge().contains("merged into the dequantized 4-bit (nf4) weights") && r.merge().contains("no full-precision copy"), r.merge());
        assertArrayEquals(plus(baseWeight(q, null), loraDelta.get(V0)), exportedV0(r), 1e-6f);
        assertThrows(IllegalArgumentException.class, () -> GgufExport.run(GgufExport.Options.of(q, tmp.resolve("c.gguf"), GgufFileType.F32)
                .withAdapter(adapter).withRequantize(QuantSpec.of(QuantType.NF4)), l -> {}));
    }

    @Test
    void intoTheNf4RoundTripWithQuant() {
        GgufExport.Report r = GgufExport.run(GgufExport.Options.of(TestData.model(), tmp.resolve("d.gguf"), GgufFileType.F32).withAdapter(adapter)
                .withRequantize(QuantSpec.of(QuantType.NF4)), l -> {});
        assertTrue(r.merge().contains("nf4-quantized and dequantized weights"), r.merge());
        float[] expected = plus(baseWeight(TestData.model(), QuantSpec.of(QuantType.NF4)), loraDelta.get(V0)); // as training loaded it
        float[] got = exportedV0(r);
        assertArrayEquals(expected, got, 1e-6f);
        float[] original = baseWeight(TestData.model(), null);
        double moved = 0;
        for (int i = 0; i < got.length; i++) moved += Math.abs(got[i] - original[i] - loraDelta.get(V0)[i]);
        assertTrue(moved / got.length > 1e-4, "the NF4 round trip should change the base weights");
        assertEquals(List.of(), r.fallbacks());
    }
}
