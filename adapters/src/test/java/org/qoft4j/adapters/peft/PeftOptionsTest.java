package org.qoft4j.adapters.peft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.adapters.AdapterConfig;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.adapters.LoraConfig;
import org.qoft4j.adapters.LoraLayer;
import org.qoft4j.adapters.OftAdapter;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.OftLayer;
import org.qoft4j.adapters.TargetFilter;
import org.qoft4j.adapters.TargetModules;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.linear.DenseLinear;
import org.qoft4j.quant.linear.LinearLayer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * PEFT's OFT and LoRA options beyond the basics (module selection, module dropout, rsLoRA, per-module rank and
 * alpha), in adapter_config.json as PEFT writes them and as PEFT reads them. Expected values follow PEFT's
 * {@code check_target_module_exists}, {@code get_pattern_key} and {@code MultiplicativeDropoutLayer}.
 */
class PeftOptionsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String Q0 = "model.layers.0.self_attn.q_proj", Q1 = "model.layers.1.self_attn.q_proj";

    private static Tensor randn(long seed, long... shape) {
        Generator g = torch.make_generator_cpu(seed);
        return torch.randn(shape, new GeneratorOptional(g), new TensorOptions(ScalarType.Float));
    }

    /** q, v, down projections of three decoder layers (in 64, down in 96), plus lm_head. */
    private static Map<String, LinearLayer> model() {
        Map<String, LinearLayer> m = new TreeMap<>();
        long seed = 1;
        for (int l = 0; l < 3; l++) {
            m.put("model.layers." + l + ".self_attn.q_proj", new DenseLinear(randn(seed++, 64, 64).mul(new Scalar(0.1)), null));
            m.put("model.layers." + l + ".self_attn.v_proj", new DenseLinear(randn(seed++, 32, 64).mul(new Scalar(0.1)), null));
            m.put("model.layers." + l + ".mlp.down_proj", new DenseLinear(randn(seed++, 64, 96).mul(new Scalar(0.1)), null));
        }
        m.put("lm_head", new DenseLinear(randn(seed, 40, 64), null));
        return m;
    }

    private static Map<String, AdapterLayer> inject(Map<String, LinearLayer> bases, AdapterConfig c) {
        Map<String, AdapterLayer> out = new TreeMap<>();
        long seed = 5;
        for (Map.Entry<String, LinearLayer> e : bases.entrySet()) {
            if (!c.targets(e.getKey())) continue;
            out.put(e.getKey(), c instanceof OftConfig o ? new OftLayer(e.getValue(), o, e.getKey(), 0, null)
                    : new LoraLayer(e.getValue(), (LoraConfig) c, e.getKey(), seed++, null));
        }
        return out;
    }

    private static void randomize(Map<String, AdapterLayer> layers) {
        long[] seed = {11};
        for (AdapterLayer l : layers.values()) {
            Map<String, Tensor> v = new LinkedHashMap<>();
            l.stateDict().forEach((k, p) -> v.put(k, randn(seed[0]++, Tensors.shape(p)).mul(new Scalar(0.05))));
            l.loadStateDict(v);
        }
    }

    @Test
    void layerSelectionAndExclusionFollowPeft() {
        TargetModules names = TargetModules.of("q_proj", "down_proj");
        TargetFilter layers = new TargetFilter(TargetModules.of("layers.2.self_attn.q_proj"), List.of(0, 2), null);
        assertTrue(layers.admits(Q0, names));
        assertFalse(layers.admits(Q1, names), "layer 1 is not in layers_to_transform");
        assertFalse(layers.admits("model.layers.2.self_attn.q_proj", names), "excluded by suffix");
        assertTrue(layers.admits("model.layers.2.mlp.down_proj", names));
        assertFalse(layers.admits("lm_head", names), "no layer index: not a layer-selected target");
        // PEFT: the index is the first numbered segment; layers_pattern picks the segment before it
        TargetFilter moe = new TargetFilter(null, List.of(1), List.of("experts"));
        assertTrue(moe.admits("model.layers.0.mlp.experts.1.up_proj", TargetModules.of("up_proj")));
        assertFalse(new TargetFilter(null, List.of(1), null).admits("model.layers.0.mlp.experts.1.up_proj", TargetModules.of("up_proj")));
        // a regex target_modules ignores layers_to_transform (PEFT applies it only to the list form); all-linear is a list in PEFT
        assertTrue(layers.admits(Q1, TargetModules.regex(".*q_proj")));
        assertFalse(layers.admits(Q1, TargetModules.regex(TargetModules.ALL_LINEAR)));
        // regex exclude: a full match
        TargetFilter rx = new TargetFilter(TargetModules.regex(".*\\.1\\..*"), null, null);
        assertFalse(rx.admits(Q1, names));
        assertTrue(rx.admits(Q0, names));
        assertThrows(IllegalArgumentException.class, () -> new TargetFilter(null, null, List.of("layers")), "layers_pattern needs layers_to_transform");
        assertThrows(IllegalArgumentException.class, () -> new LoraConfig(8, 16, 0, false, TargetModules.regex(TargetModules.ALL_LINEAR), Map.of(), Map.of(),
                new TargetFilter(null, List.of(0), null)), "PEFT's LoraConfig refuses layers_to_transform with a string target");
    }

    @Test
    void rankAndAlphaPatternsPickPerModuleValuesAsPeftDoes() {
        Map<String, Integer> ranks = new LinkedHashMap<>();
        ranks.put("q_proj", 4);                       // matches any path ending in .q_proj
        ranks.put("model.layers.1.self_attn.q_proj", 2); // never reached for layer 1: the first matching key wins
        ranks.put("layers\\.2\\..*down_proj", 6);
        LoraConfig c = new LoraConfig(8, 16, 0, false, TargetModules.of("q_proj", "v_proj", "down_proj")).withPatterns(ranks, Map.of("v_proj", 3.0));
        assertEquals(4, c.rankFor(Q1));
        assertEquals(8, c.rankFor("model.layers.0.mlp.down_proj"));
        assertEquals(6, c.rankFor("model.layers.2.mlp.down_proj"));
        assertEquals(8, c.rankFor("model.layers.0.self_attn.xq_proj"), "a key matches whole path segments only");
        assertEquals(16.0 / 4, c.scalingFor(Q0));
        assertEquals(3.0 / 8, c.scalingFor("model.layers.0.self_attn.v_proj"));
        LoraConfig rs = new LoraConfig(8, 16, 0, true, c.targetModules(), ranks, Map.of(), TargetFilter.NONE);
        assertEquals(16.0 / Math.sqrt(4), rs.scalingFor(Q0), "rsLoRA: alpha / sqrt(r) with the module's own r");
        assertEquals(16.0 / Math.sqrt(8), rs.scaling());
    }

    @Test
    void optionsRoundTripThroughPeftFiles(@TempDir Path root) throws IOException {
        try (PointerScope s = new PointerScope()) {
            Map<String, LinearLayer> bases = model();
            Tensor x64 = randn(3, 2, 64);
            TargetFilter filter = new TargetFilter(TargetModules.of("v_proj"), List.of(0, 2), null);
            OftConfig oft = OftConfig.defaults().withBlockSize(16).withTargetModules(TargetModules.of("q_proj", "v_proj", "down_proj"))
                    .withModuleDropout(0.25).withFilter(filter).withCoft(true, 1e-3).withNeumannTerms(6);
            Map<String, Integer> ranks = new LinkedHashMap<>();
            ranks.put("down_proj", 2);
            LoraConfig lora = new LoraConfig(4, 8, 0.0, true, TargetModules.of("q_proj", "down_proj"), ranks, Map.of("q_proj", 12.0),
                    new TargetFilter(TargetModules.regex(".*layers\\.1\\..*"), null, null));
            int i = 0;
            for (AdapterConfig cfg : List.<AdapterConfig>of(oft, lora)) {
                Path dir = root.resolve("a" + i++);
                Map<String, AdapterLayer> layers = inject(bases, cfg);
                randomize(layers);
                PeftAdapterIO.write(dir, layers, "toy");
                PeftAdapter back = PeftAdapterIO.read(dir, bases, null);
                assertEquals(cfg, back.config(), "every option survives adapter_config.json");
                assertEquals(layers.keySet(), back.layers().keySet(), "the same modules are targeted on reading");
                for (String m : layers.keySet()) {
                    if (bases.get(m).inFeatures() != 64) continue;
                    layers.get(m).train(false);
                    back.layers().get(m).train(false);
                    assertTrue(torch.equal(layers.get(m).forward(x64), back.layers().get(m).forward(x64)), m);
                }
                layers.values().forEach(AdapterLayer::close);
                back.layers().values().forEach(AdapterLayer::close);
            }
            JsonNode o = JSON.readTree(root.resolve("a0/adapter_config.json").toFile());
            assertEquals(0.25, o.get("module_dropout").asDouble());
            assertEquals("[\"v_proj\"]", o.get("exclude_modules").toString());
            assertEquals("[0,2]", o.get("layers_to_transform").toString());
            assertTrue(o.get("layers_pattern").isNull());
            assertTrue(o.get("coft").asBoolean());
            assertEquals(1e-3, o.get("eps").asDouble());
            assertEquals(6, o.get("num_cayley_neumann_terms").asInt());
            JsonNode l = JSON.readTree(root.resolve("a1/adapter_config.json").toFile());
            assertEquals("{\"down_proj\":2}", l.get("rank_pattern").toString());
            assertEquals("{\"q_proj\":12}", l.get("alpha_pattern").toString());
            assertTrue(l.get("use_rslora").asBoolean());
            assertEquals(".*layers\\.1\\..*", l.get("exclude_modules").asText());
        }
    }

    @Test
    void loraLayersTakeTheirRankFromThePattern(@TempDir Path dir) throws IOException {
        try (PointerScope s = new PointerScope()) {
            Map<String, LinearLayer> bases = model();
            LoraConfig c = new LoraConfig(4, 8, 0, false, TargetModules.of("q_proj", "down_proj")).withPatterns(Map.of("down_proj", 2), Map.of());
            Map<String, AdapterLayer> layers = inject(bases, c);
            assertEquals(2, ((LoraLayer) layers.get("model.layers.1.mlp.down_proj")).rank());
            assertArrayEquals(new long[] {2, 96}, Tensors.shape(((LoraLayer) layers.get("model.layers.1.mlp.down_proj")).a()));
            assertArrayEquals(new long[] {4, 64}, Tensors.shape(((LoraLayer) layers.get(Q1)).a()));
            PeftAdapterIO.write(dir, layers, null);
            // a file whose pattern gives another rank than the layers have is refused on load, naming the module
            ObjectNode cfg = (ObjectNode) JSON.readTree(dir.resolve("adapter_config.json").toFile());
            cfg.putObject("rank_pattern").put("down_proj", 3);
            Files.writeString(dir.resolve("adapter_config.json"), JSON.writeValueAsString(cfg));
            PeftAdapterException e = assertThrows(PeftAdapterException.class, () -> PeftAdapterIO.load(dir, layers));
            assertTrue(e.getMessage().contains("down_proj") && e.getMessage().contains("r = 3"), e.getMessage());
            cfg.putObject("rank_pattern").put("down_proj", -1);
            Files.writeString(dir.resolve("adapter_config.json"), JSON.writeValueAsString(cfg));
            e = assertThrows(PeftAdapterException.class, () -> PeftAdapterIO.read(dir, bases, null));
            assertTrue(e.getMessage().contains("rank_pattern") && e.getMessage().contains("positive"), e.getMessage());
            layers.values().forEach(AdapterLayer::close);
        }
    }

    @Test
    void moduleDropoutReplacesBlocksByTheIdentityInTrainingOnly() {
        try (PointerScope s = new PointerScope()) {
            OftConfig c = OftConfig.defaults().withBlockSize(8).withModuleDropout(0.5); // 64 / 8 = 8 blocks, int(0.5 * 8) = 4 dropped
            OftLayer layer = new OftLayer(new DenseLinear(torch.eye(64), null), c);
            layer.loadStateDict(Map.of(OftAdapter.WEIGHT_KEY, randn(9, 8, 28).mul(new Scalar(0.1))));
            Tensor full = layer.rotation().blocks();                  // eval: no dropout
            torch.manual_seed(1);
            Tensor dropped = layer.rotation().blocks(true);
            Tensor eye = torch.eye(8);
            int identity = 0, kept = 0;
            for (int b = 0; b < 8; b++) {
                if (torch.equal(dropped.get(b), eye)) identity++;
                else if (torch.equal(dropped.get(b), full.get(b))) kept++;
            }
            assertEquals(4, identity, "int(p * blocks) blocks become I");
            assertEquals(4, kept, "the others are untouched");
            torch.manual_seed(1);
            assertTrue(torch.equal(dropped, layer.rotation().blocks(true)), "the global generator decides: the same seed, the same blocks");
            // the layer applies it in training mode only
            Tensor x = randn(4, 3, 64);
            layer.train(false);
            Tensor evalOut = layer.forward(x);
            assertTrue(torch.equal(evalOut, OftLayerOps.rotate(x, full)));
            layer.train(true);
            torch.manual_seed(1);
            assertTrue(torch.equal(layer.forward(x), OftLayerOps.rotate(x, dropped)));
            // with block sharing PEFT skips it
            OftLayer shared = new OftLayer(new DenseLinear(torch.eye(64), null), c.withBlockShare(true));
            assertTrue(torch.equal(shared.rotation().blocks(true), shared.rotation().blocks()));
            layer.close();
            shared.close();
        }
    }

    /** The blockwise product OftLayer applies (identity base). */
    private static final class OftLayerOps {
        static Tensor rotate(Tensor x, Tensor r) {
            return org.qoft4j.adapters.OftRotation.rotate(x, r);
        }
    }

    @Test
    void moduleDropoutOutOfRangeIsRefused(@TempDir Path dir) throws IOException {
        try (PointerScope s = new PointerScope()) {
            Map<String, LinearLayer> bases = model();
            Map<String, AdapterLayer> layers = inject(bases, OftConfig.defaults().withTargetModules(TargetModules.of("q_proj")));
            PeftAdapterIO.write(dir, layers, null);
            ObjectNode cfg = (ObjectNode) JSON.readTree(dir.resolve("adapter_config.json").toFile());
            cfg.put("module_dropout", 1.5);
            Files.writeString(dir.resolve("adapter_config.json"), JSON.writeValueAsString(cfg));
            PeftAdapterException e = assertThrows(PeftAdapterException.class, () -> PeftAdapterIO.read(dir, bases, null));
            assertTrue(e.getMessage().contains("module_dropout") && e.getMessage().contains("1.5"), e.getMessage());
            assertEquals(Set.of(Q0, Q1, "model.layers.2.self_attn.q_proj"), layers.keySet());
            layers.values().forEach(AdapterLayer::close);
        }
    }
}
