package org.qoft4j.adapters.peft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.adapters.CayleyConvention;
import org.qoft4j.adapters.CayleyNeumann;
import org.qoft4j.adapters.LoraConfig;
import org.qoft4j.adapters.LoraLayer;
import org.qoft4j.adapters.OftAdapter;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.OftLayer;
import org.qoft4j.adapters.OftV1Layer;
import org.qoft4j.adapters.TargetModules;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.linear.DenseLinear;
import org.qoft4j.quant.linear.LinearLayer;
import org.qoft4j.core.safetensors.DType;
import org.qoft4j.core.safetensors.SafetensorsFile;
import org.qoft4j.core.safetensors.SafetensorsWriter;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BiFunction;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

class PeftAdapterIOTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    // A Llama-shaped toy: hidden 64, 4 query heads and 2 KV heads of 16 (GQA), MLP 176 (not a multiple of 32).
    private static final int HIDDEN = 64, KV = 32, MLP = 176;

    private static Tensor randn(long seed, long... shape) {
        Generator g = torch.make_generator_cpu(seed);
        return torch.randn(shape, new GeneratorOptional(g), new TensorOptions(ScalarType.Float));
    }

    /** q, k, v, o, gate, up, down of two decoder layers, by module path. */
    private static Map<String, LinearLayer> llama() {
        Map<String, LinearLayer> m = new TreeMap<>();
        long seed = 100;
        for (int l = 0; l < 2; l++) {
            String p = "model.layers." + l + ".";
            long[][] shapes = {{HIDDEN, HIDDEN}, {KV, HIDDEN}, {KV, HIDDEN}, {HIDDEN, HIDDEN}, {MLP, HIDDEN}, {MLP, HIDDEN}, {HIDDEN, MLP}};
            String[] names = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
            for (int i = 0; i < names.length; i++)
                m.put(p + names[i], new DenseLinear(randn(seed++, shapes[i]).mul(new Scalar(0.1)), null));
        }
        m.put("lm_head", new DenseLinear(randn(seed, 50, HIDDEN), null));
        return m;
    }

    private static Map<String, AdapterLayer> wrap(Map<String, LinearLayer> bases, Function<Map.Entry<String, LinearLayer>, AdapterLayer> f,
                                                  TargetModules targets) {
        Map<String, AdapterLayer> out = new TreeMap<>();
        for (Map.Entry<String, LinearLayer> e : bases.entrySet()) if (targets.matches(e.getKey())) out.put(e.getKey(), f.apply(e));
        return out;
    }

    private static void randomize(Map<String, AdapterLayer> layers, double std) {
        long seed = 1;
        for (AdapterLayer l : layers.values()) {
            Map<String, Tensor> v = new HashMap<>();
            for (Map.Entry<String, Tensor> p : l.stateDict().entrySet())
                v.put(p.getKey(), randn(seed++, Tensors.shape(p.getValue())).mul(new Scalar(std)));
            l.loadStateDict(v);
        }
    }

    private static void closeAll(Map<String, ? extends AdapterLayer> layers) {
        layers.values().forEach(AdapterLayer::close);
    }

    @Test
    void oftFileHasPeftsKeysShapesAndConfig(@TempDir Path dir) throws IOException {
        try (PointerScope s = new PointerScope()) {
            Map<String, LinearLayer> bases = llama();
            OftConfig cfg = OftConfig.defaults();
            Map<String, AdapterLayer> layers = wrap(bases, e -> new OftLayer(e.getValue(), cfg, e.getKey(), 0, null), cfg.targetModules());
            assertEquals(14, layers.size(), "lm_head is not a target");
            PeftAdapterIO.write(dir, layers, "toy/llama");

            Map<String, long[]> expected = new TreeMap<>();
            for (int l = 0; l < 2; l++) {
                String p = "base_model.model.model.layers." + l + ".";
                for (String m : List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj"))
                    expected.put(p + m + ".oft_R.weight", new long[] {2, 496});   // in 64, b 32: [64/32, 32*31/2]
                expected.put(p + "mlp.down_proj.oft_R.weight", new long[] {8, 231}); // in 176: b 22 (nearest divisor of 32), [8, 22*21/2]
            }
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
                assertEquals(expected.keySet(), new TreeSet<>(f.names()));
                for (Map.Entry<String, long[]> e : expected.entrySet()) {
                    assertArrayEquals(e.getValue(), f.info(e.getKey()).shape(), e.getKey());
                    assertEquals(DType.F32, f.info(e.getKey()).dtype());
                }
                assertEquals("pt", f.metadata().get("format"));
            }
            JsonNode c = JSON.readTree(dir.resolve("adapter_config.json").toFile());
            assertEquals("OFT", c.get("peft_type").asText());
            assertEquals("CAUSAL_LM", c.get("task_type").asText());
            assertEquals(0, c.get("r").asInt());
            assertEquals(32, c.get("oft_block_size").asInt());
            assertTrue(c.get("use_cayley_neumann").asBoolean());
            assertEquals(5, c.get("num_cayley_neumann_terms").asInt());
            assertEquals(6e-5, c.get("eps").asDouble());
            assertFalse(c.get("coft").asBoolean());
            assertFalse(c.get("block_share").asBoolean());
            assertEquals("none", c.get("bias").asText());
            assertEquals(0.0, c.get("module_dropout").asDouble());
            assertTrue(c.get("init_weights").asBoolean());
            assertFalse(c.get("fan_in_fan_out").asBoolean());
            assertTrue(c.get("inference_mode").asBoolean());
            assertEquals("toy/llama", c.get("base_model_name_or_path").asText());
            assertEquals("0.18.0", c.get("peft_version").asText());
            Set<String> targets = new TreeSet<>();
            c.get("target_modules").forEach(n -> targets.add(n.asText()));
            assertEquals(Set.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), targets);
            closeAll(layers);
        }
    }

    @Test
    void loraFileHasPeftsKeysShapesAndConfig(@TempDir Path dir) throws IOException {
        try (PointerScope s = new PointerScope()) {
            Map<String, LinearLayer> bases = llama();
            LoraConfig cfg = new LoraConfig(8, 16, 0.05, false, TargetModules.LLAMA_ALL_LINEAR);
            Map<String, AdapterLayer> layers = wrap(bases, e -> new LoraLayer(e.getValue(), cfg, 7, null), cfg.targetModules());
            PeftAdapterIO.write(dir, layers, "toy/llama");
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
                assertEquals(28, f.names().size());
                String p = "base_model.model.model.layers.1.";
                assertArrayEquals(new long[] {8, HIDDEN}, f.info(p + "self_attn.k_proj.lora_A.weight").shape());
                assertArrayEquals(new long[] {KV, 8}, f.info(p + "self_attn.k_proj.lora_B.weight").shape());
                assertArrayEquals(new long[] {8, MLP}, f.info(p + "mlp.down_proj.lora_A.weight").shape());
                assertArrayEquals(new long[] {HIDDEN, 8}, f.info(p + "mlp.down_proj.lora_B.weight").shape());
                assertArrayEquals(new long[] {MLP, 8}, f.info(p + "mlp.up_proj.lora_B.weight").shape());
            }
            JsonNode c = JSON.readTree(dir.resolve("adapter_config.json").toFile());
            assertEquals("LORA", c.get("peft_type").asText());
            assertEquals(8, c.get("r").asInt());
            assertTrue(c.get("lora_alpha").isIntegralNumber());
            assertEquals(16, c.get("lora_alpha").asInt());
            assertEquals(0.05, c.get("lora_dropout").asDouble());
            assertFalse(c.get("use_rslora").asBoolean());
            assertFalse(c.get("use_dora").asBoolean());
            closeAll(layers);
        }
    }

    private static void assertBitIdentical(Map<String, AdapterLayer> a, Map<String, AdapterLayer> b) {
        assertEquals(a.keySet(), b.keySet());
        for (String m : a.keySet())
            for (Map.Entry<String, Tensor> p : a.get(m).stateDict().entrySet()) {
                Tensor q = b.get(m).stateDict().get(p.getKey());
                assertTrue(torch.equal(p.getValue(), q), m + "." + p.getKey());
                // bit for bit, not just numerically equal (distinguishes -0.0 and NaN payloads)
                assertTrue(torch.equal(p.getValue().detach().view(ScalarType.Int), q.detach().view(ScalarType.Int)), m + "." + p.getKey());
            }
    }

    @Test
    void readOfWriteIsBitIdentical(@TempDir Path root) {
        try (PointerScope s = new PointerScope()) {
            Map<String, LinearLayer> bases = llama();
            Tensor x = randn(77, 3, HIDDEN);
            List<OftConfig> oftConfigs = List.of(OftConfig.defaults(), OftConfig.defaults().withBlockSize(16).withNeumannTerms(4),
                    OftConfig.defaults().withExactCayley(CayleyConvention.NEUMANN_CONSISTENT),
                    OftConfig.defaults().withBlockShare(true).withTargetModules(TargetModules.of("q_proj", "v_proj")),
                    OftConfig.defaults().withR(4).withTargetModules(TargetModules.regex(".*\\.(q|k)_proj")));
            int i = 0;
            for (OftConfig cfg : oftConfigs) {
                Path dir = root.resolve("oft" + i++);
                Map<String, AdapterLayer> layers = wrap(bases, e -> new OftLayer(e.getValue(), cfg, e.getKey(), 0, null), cfg.targetModules());
                randomize(layers, 0.05);
                PeftAdapterIO.write(dir, layers, null);
                PeftAdapter back = PeftAdapterIO.read(dir, bases, null);
                assertEquals(cfg, back.config(), "config survives the round trip");
                assertBitIdentical(layers, back.layers());
                String q = "model.layers.0.self_attn.q_proj";
                assertTrue(torch.equal(layers.get(q).forward(x), back.layers().get(q).forward(x)));
                // and into existing layers
                Map<String, AdapterLayer> fresh = wrap(bases, e -> new OftLayer(e.getValue(), cfg, e.getKey(), 0, null), cfg.targetModules());
                assertTrue(PeftAdapterIO.load(dir, fresh).isEmpty());
                assertBitIdentical(layers, fresh);
                closeAll(layers);
                closeAll(back.layers());
                closeAll(fresh);
            }
            LoraConfig lc = new LoraConfig(4, 8, 0.1, true, TargetModules.of("o_proj", "down_proj"));
            Map<String, AdapterLayer> lora = wrap(bases, e -> new LoraLayer(e.getValue(), lc, 3, null), lc.targetModules());
            randomize(lora, 0.1);
            PeftAdapterIO.write(root.resolve("lora"), lora, null);
            PeftAdapter back = PeftAdapterIO.read(root.resolve("lora"), bases, null);
            assertEquals(lc, back.config());
            assertBitIdentical(lora, back.layers());
            closeAll(lora);
            closeAll(back.layers());
        }
    }

    @Test
    void v1LayersWriteTheSameFileAsV2(@TempDir Path root) throws IOException {
        try (PointerScope s = new PointerScope()) {
            Map<String, LinearLayer> bases = llama();
            OftConfig cfg = OftConfig.defaults().withTargetModules(TargetModules.of("q_proj"));
            Map<String, AdapterLayer> v2 = wrap(bases, e -> new OftLayer(e.getValue(), cfg, e.getKey(), 0, null), cfg.targetModules());
            randomize(v2, 0.05);
            Map<String, AdapterLayer> v1 = wrap(bases, e -> new OftV1Layer(e.getValue(), cfg, e.getKey(), 0, null), cfg.targetModules());
            v1.forEach((k, l) -> l.loadStateDict(v2.get(k).stateDict()));
            PeftAdapterIO.write(root.resolve("a"), v2, null);
            PeftAdapterIO.write(root.resolve("b"), v1, null);
            assertArrayEquals(Files.readAllBytes(root.resolve("a/adapter_model.safetensors")), Files.readAllBytes(root.resolve("b/adapter_model.safetensors")));
            assertArrayEquals(Files.readAllBytes(root.resolve("a/adapter_config.json")), Files.readAllBytes(root.resolve("b/adapter_config.json")));
            closeAll(v1);
            closeAll(v2);
        }
    }

    /** Exact mode: the file holds PEFT's (I - Q)(I + Q)^-1 convention, so PEFT computes the same R from it. */
    @Test
    void exactModeFilesHoldPeftsConvention(@TempDir Path dir) {
        try (PointerScope s = new PointerScope()) {
            Map<String, LinearLayer> bases = llama();
            OftConfig cfg = OftConfig.defaults().withExactCayley(CayleyConvention.NEUMANN_CONSISTENT).withTargetModules(TargetModules.of("q_proj"));
            Map<String, AdapterLayer> layers = wrap(bases, e -> new OftLayer(e.getValue(), cfg, e.getKey(), 0, null), cfg.targetModules());
            randomize(layers, 0.05);
            PeftAdapterIO.write(dir, layers, null);
            String q = "model.layers.0.self_attn.q_proj";
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
                Tensor stored = f.load("base_model.model." + q + ".oft_R.weight");
                Tensor ours = ((OftAdapter) layers.get(q)).rotation().blocks().detach();
                Tensor pefts = CayleyNeumann.rotation(stored, 32, 5, false, CayleyConvention.PEFT_EXACT);
                assertTrue(ours.sub(pefts).abs().max().item_double() < 1e-6, "PEFT's exact branch on the stored vector gives our R");
            }
            closeAll(layers);
        }
    }

    // ---------- a file as PEFT 0.18 writes it, built by hand from the spec ----------

    private static final String PEFT_CONFIG = """
            {
              "auto_mapping": null,
              "base_model_name_or_path": "meta-llama/Llama-3.2-1B",
              "bias": "none",
              "block_share": false,
              "coft": false,
              "eps": 6e-05,
              "exclude_modules": null,
              "fan_in_fan_out": false,
              "inference_mode": true,
              "init_weights": true,
              "layers_pattern": null,
              "layers_to_transform": null,
              "module_dropout": 0.0,
              "modules_to_save": null,
              "num_cayley_neumann_terms": 5,
              "oft_block_size": 2,
              "peft_type": "OFT",
              "peft_version": "%s",
              "r": 0,
              "revision": null,
              "target_modules": [
                "v_proj",
                "q_proj"
              ],
              "task_type": "CAUSAL_LM",
              "use_cayley_neumann": true
            }
            """;

    /** Raw safetensors bytes, assembled by hand: 8-byte LE header length, JSON header, little-endian F32 data. */
    private static byte[] handSafetensors(Map<String, float[]> tensors, Map<String, long[]> shapes) {
        StringBuilder h = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (String k : tensors.keySet()) {
            long n = tensors.get(k).length * 4L;
            h.append(",\"").append(k).append("\":{\"dtype\":\"F32\",\"shape\":").append(java.util.Arrays.toString(shapes.get(k)).replace(" ", ""))
                    .append(",\"data_offsets\":[").append(offset).append(',').append(offset + n).append("]}");
            offset += n;
        }
        h.append('}');
        while ((h.length() + 8) % 8 != 0) h.append(' ');
        byte[] header = h.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + header.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(header.length).put(header);
        for (float[] v : tensors.values()) for (float f : v) buf.putFloat(f);
        return buf.array();
    }

    private static Map<String, LinearLayer> tinyModel() {
        Map<String, LinearLayer> m = new TreeMap<>();
        for (String p : List.of("q_proj", "k_proj", "v_proj")) m.put("model.layers.0.self_attn." + p, new DenseLinear(torch.eye(4), null));
        return m;
    }

    private static void writePeftExample(Path dir, String version) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("adapter_config.json"), PEFT_CONFIG.formatted(version));
        Map<String, float[]> t = new LinkedHashMap<>();
        Map<String, long[]> shapes = new HashMap<>();
        t.put("base_model.model.model.layers.0.self_attn.q_proj.oft_R.weight", new float[] {0.1f, -0.2f});
        t.put("base_model.model.model.layers.0.self_attn.v_proj.oft_R.weight", new float[] {0.0f, 0.3f});
        t.keySet().forEach(k -> shapes.put(k, new long[] {2, 1}));
        Files.write(dir.resolve("adapter_model.safetensors"), handSafetensors(t, shapes));
    }

    @Test
    void handBuiltPeftFileLoads(@TempDir Path dir) throws IOException {
        writePeftExample(dir, "0.18.0");
        try (PointerScope s = new PointerScope()) {
            PeftAdapter a = PeftAdapterIO.read(dir, tinyModel(), null);
            assertEquals(Set.of("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj"), a.layers().keySet());
            assertEquals("meta-llama/Llama-3.2-1B", a.baseModelNameOrPath());
            assertEquals("0.18.0", a.peftVersion());
            assertTrue(a.warnings().isEmpty(), a.warnings().toString());
            OftConfig c = (OftConfig) a.config();
            assertEquals(2, c.blockSize());
            assertEquals(5, c.neumannTerms());
            // the spec's worked example, through the loaded q_proj (base = identity)
            float[] y = Tensors.toFloats(a.layers().get("model.layers.0.self_attn.q_proj").forward(Tensors.of(new float[] {1, 2, 3, 4}, 1, 4)));
            assertArrayEquals(new float[] {0.5841f, 2.1582f, 4.3008f, 2.5344f}, y, 5e-5f);
            closeAll(a.layers());
        }
    }

    @Test
    void olderCayleyNeumannVersionsWarnAsPeftDoes(@TempDir Path dir) throws IOException {
        writePeftExample(dir, "0.17.1");
        try (PointerScope s = new PointerScope()) {
            PeftAdapter a = PeftAdapterIO.read(dir, tinyModel(), null);
            assertEquals(1, a.warnings().size());
            assertTrue(a.warnings().get(0).contains("0.17.1") && a.warnings().get(0).contains("0.18"), a.warnings().get(0));
            closeAll(a.layers());
        }
    }

    // ---------- bad adapter directories: each a clear exception ----------

    private Path badCopy(Path root, String name, Function<ObjectNode, ObjectNode> config,
                         BiFunction<Map<String, Tensor>, Map<String, LinearLayer>, Map<String, Tensor>> tensors) throws IOException {
        try (PointerScope s = new PointerScope()) {
            Map<String, LinearLayer> bases = llama();
            OftConfig cfg = OftConfig.defaults().withTargetModules(TargetModules.of("q_proj", "down_proj"));
            Map<String, AdapterLayer> layers = wrap(bases, e -> new OftLayer(e.getValue(), cfg, e.getKey(), 0, null), cfg.targetModules());
            randomize(layers, 0.05);
            Path good = root.resolve("good-" + name);
            PeftAdapterIO.write(good, layers, null);
            Path bad = root.resolve(name);
            Files.createDirectories(bad);
            ObjectNode c = (ObjectNode) JSON.readTree(good.resolve("adapter_config.json").toFile());
            Files.writeString(bad.resolve("adapter_config.json"), JSON.writeValueAsString(config.apply(c)));
            Map<String, Tensor> t = new TreeMap<>();
            try (SafetensorsFile f = SafetensorsFile.open(good.resolve("adapter_model.safetensors"))) {
                for (String k : f.names()) t.put(k, f.load(k));
            }
            SafetensorsWriter.write(bad.resolve("adapter_model.safetensors"), tensors.apply(t, bases), Map.of("format", "pt"));
            closeAll(layers);
            return bad;
        }
    }

    private static final String Q0 = "base_model.model.model.layers.0.self_attn.q_proj.oft_R.weight";

    private static PeftAdapterException assertBad(Path dir, String... fragments) {
        try (PointerScope s = new PointerScope()) {
            PeftAdapterException e = assertThrows(PeftAdapterException.class, () -> PeftAdapterIO.read(dir, llama(), null));
            for (String f : fragments) assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' should mention '" + f + "'");
            return e;
        }
    }

    @Test
    void badFilesAreRefusedClearly(@TempDir Path root) throws IOException {
        Function<ObjectNode, ObjectNode> sameConfig = c -> c;
        // the untouched copy loads (so each failure below is due to its one change)
        try (PointerScope s = new PointerScope()) {
            Path ok = badCopy(root, "unchanged", sameConfig, (t, b) -> t);
            closeAll(PeftAdapterIO.read(ok, llama(), null).layers());
        }
        assertBad(badCopy(root, "wrong-shape", sameConfig, (t, b) -> {
            t.put(Q0, randn(1, 3, 496));
            return t;
        }), Q0, "shape [3, 496]", "expected [2, 496]");
        assertBad(badCopy(root, "missing-key", sameConfig, (t, b) -> {
            t.remove(Q0);
            return t;
        }), Q0, "missing");
        assertBad(badCopy(root, "block-size", sameConfig, (t, b) -> {
            t.put(Q0, randn(1, 4, 120)); // b = 16 while the config says 32
            return t;
        }), Q0, "block size mismatch", "b = 16", "b = 32");
        assertBad(badCopy(root, "nan", sameConfig, (t, b) -> {
            Tensor v = t.get(Q0).clone();
            v.narrow(1, 7, 1).fill_(new Scalar(Double.NaN));
            t.put(Q0, v);
            return t;
        }), Q0, "NaN");
        assertBad(badCopy(root, "peft-type", c -> c.put("peft_type", "LOHA"), (t, b) -> t), "adapter_config.json", "unknown peft_type 'LOHA'");
        assertBad(badCopy(root, "no-peft-type", c -> {
            c.remove("peft_type");
            return c;
        }, (t, b) -> t), "peft_type", "missing");
        assertBad(badCopy(root, "pre-0.14", c -> {
            c.remove("oft_block_size");
            return c;
        }, (t, b) -> t), "oft_block_size", "0.14");
        assertBad(badCopy(root, "oft_r", sameConfig, (t, b) -> {
            Map<String, Tensor> old = new TreeMap<>();
            t.forEach((k, v) -> old.put(k.replace(".oft_R.weight", ".oft_r"), v));
            return old;
        }), ".oft_r", "PEFT < 0.16");
        assertBad(badCopy(root, "unknown-module", sameConfig, (t, b) -> {
            t.put("base_model.model.model.layers.9.self_attn.q_proj.oft_R.weight", t.get(Q0));
            return t;
        }), "layers.9", "does not have");
        assertBad(badCopy(root, "int-dtype", sameConfig, (t, b) -> {
            t.put(Q0, t.get(Q0).to(ScalarType.Int));
            return t;
        }), Q0, "dtype I32");
        assertBad(badCopy(root, "lora-key-in-oft", sameConfig, (t, b) -> {
            t.put("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", randn(1, 8, HIDDEN));
            return t;
        }), "lora_A.weight", "peft_type is OFT");
        assertBad(badCopy(root, "terms", c -> c.put("num_cayley_neumann_terms", 12), (t, b) -> t), "num_cayley_neumann_terms", "12");
        Path notJson = badCopy(root, "not-json", sameConfig, (t, b) -> t);
        Files.writeString(notJson.resolve("adapter_config.json"), "{\"peft_type\": \"OFT\",");
        assertBad(notJson, "adapter_config.json", "not valid JSON");
        Path noConfig = badCopy(root, "no-config", sameConfig, (t, b) -> t);
        Files.delete(noConfig.resolve("adapter_config.json"));
        assertBad(noConfig, "adapter_config.json", "missing");
        Path noWeights = badCopy(root, "no-weights", sameConfig, (t, b) -> t);
        Files.delete(noWeights.resolve("adapter_model.safetensors"));
        assertBad(noWeights, "adapter_model.safetensors", "missing");
    }

    @Test
    void loadRefusesAConfigThatComputesSomethingElse(@TempDir Path dir) {
        try (PointerScope s = new PointerScope()) {
            Map<String, LinearLayer> bases = llama();
            OftConfig cfg = OftConfig.defaults().withTargetModules(TargetModules.of("q_proj"));
            Map<String, AdapterLayer> layers = wrap(bases, e -> new OftLayer(e.getValue(), cfg, e.getKey(), 0, null), cfg.targetModules());
            PeftAdapterIO.write(dir, layers, null);
            OftConfig four = cfg.withNeumannTerms(4);
            Map<String, AdapterLayer> other = wrap(bases, e -> new OftLayer(e.getValue(), four, e.getKey(), 0, null), cfg.targetModules());
            var e = assertThrows(PeftAdapterException.class, () -> PeftAdapterIO.load(dir, other));
            assertTrue(e.getMessage().contains("5 Neumann terms") && e.getMessage().contains("q_proj"), e.getMessage());
            closeAll(layers);
            closeAll(other);
        }
    }
}
