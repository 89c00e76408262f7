package org.qoft4j.quant.hf;

import org.qoft4j.quant.kernel.Kernels;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.linear.Quantizer;
import org.qoft4j.quant.ScopedTest;
import org.qoft4j.core.safetensors.HfCheckpoint;
import org.qoft4j.core.safetensors.SafetensorsException;
import org.qoft4j.quant.testing.RandomHfModel;

class ModelQuantizerTest extends ScopedTest {
    private static final ObjectMapper M = new ObjectMapper();

    @TempDir
    Path tmp;

    private Path model(RandomHfModel.Spec spec) throws IOException {
        Path in = RandomHfModel.write(tmp.resolve("in"), spec);
        Files.writeString(in.resolve("tokenizer.json"), "{\"version\":\"1.0\"}");
        Files.write(in.resolve("pytorch_model.bin"), new byte[] {1, 2, 3});
        return in;
    }

    /** Every quantized layer reads back equal to quantizing the input weight directly; every other tensor is byte-identical. */
    private static void assertFaithful(Path in, Path out, QuantSpec spec, Set<String> expectQuantized) {
        try (HfCheckpoint src = HfCheckpoint.open(in); HfCheckpoint dst = HfCheckpoint.open(out)) {
            Set<String> quantized = new TreeSet<>();
            for (String name : src.names()) {
                try (PointerScope scope = new PointerScope()) {
                    String prefix = name.substring(0, name.length() - ".weight".length());
                    if (name.endsWith(".weight") && BnbCheckpointCodec.detect(dst, prefix).isPresent()) {
                        quantized.add(name);
                        assertEquals(spec.type(), BnbCheckpointCodec.detect(dst, prefix).get(), name);
                        try (QuantizedWeight direct = Quantizer.quantize(src.load(name), spec); QuantizedWeight back = BnbCheckpointCodec.read(dst, prefix)) {
                            assertTrue(torch.equal(Kernels.dequantize(direct, ScalarType.Float), Kernels.dequantize(back, ScalarType.Float)), name);
                        }
                    } else {
                        ByteBuffer a = src.fileOf(name).bytes(name), b = dst.fileOf(name).bytes(name);
                        assertEquals(src.info(name).dtype(), dst.info(name).dtype(), name);
                        assertArrayEquals(src.info(name).shape(), dst.info(name).shape(), name);
                        assertEquals(a, b, name);
                    }
                }
            }
            assertEquals(expectQuantized, quantized);
        }
    }

    private static Set<String> projections(int layers, String... except) {
        Set<String> s = new TreeSet<>();
        for (int i = 0; i < layers; i++)
            for (String m : List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"))
                if (!List.of(except).contains(m)) s.add("model.layers." + i + "." + m + ".weight");
        return s;
    }

    @Test
    void singleFileNf4WithDoubleQuant() throws IOException {
        RandomHfModel.Spec spec = RandomHfModel.tiny().withDtype(ScalarType.BFloat16);
        Path in = model(spec), out = tmp.resolve("out");
        QuantSpec q = QuantSpec.nf4().withDoubleQuant(true);
        List<String> progress = new ArrayList<>();
        ModelQuantizer.Summary s = ModelQuantizer.quantize(in, out, ModelQuantizer.Options.of(q).withProgress(progress::add));

        assertFaithful(in, out, q, projections(2));
        assertEquals(14, s.tensorsQuantized());
        assertEquals(14, progress.size());
        assertEquals(2 + 2 * 2 + 1, s.tensorsCopied());   // embed, lm_head, 2 norms per layer, final norm
        assertEquals(2L * (64 * 64 * 2 + 32 * 64 * 2 + 128 * 64 * 3), s.paramsQuantized());
        assertEquals(s.paramsQuantized() * 2, s.quantizedBytesBefore());
        try (HfCheckpoint dst = HfCheckpoint.open(out)) {
            long layerBytes = dst.names().stream().filter(n -> n.startsWith("model.layers.") && n.contains("_proj.weight"))
                    .mapToLong(n -> dst.info(n).byteLength()).sum();
            assertEquals(layerBytes, s.quantizedBytesAfter());
            // codes (4 bits) + absmax codes (8/64) + per-layer constants: 16 + 256 floats, nested absmax, the quant_state JSON
            assertEquals(layerBytes * 8.0 / s.paramsQuantized(), s.bitsPerWeight(), 1e-12);
            assertTrue(s.bitsPerWeight() > 4.125, "bits/weight " + s.bitsPerWeight());
        }
        assertEquals(s.bytesBefore() - s.quantizedBytesBefore() + s.quantizedBytesAfter(), s.bytesAfter());
        assertEquals(256L * 64 * 2, s.largestTensorBytes());
        assertEquals(List.of("generation_config.json", "tokenizer.json"), s.filesCopied());
        assertEquals(Set.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json"), list(out));
        assertEquals(Set.of("in", "out"), list(tmp), "no temporary directories left");

        JsonNode config = M.readTree(out.resolve("config.json").toFile());
        QuantizationConfig qc = QuantizationConfig.fromModelConfig(config);
        assertEquals(new QuantizationConfig(QuantType.NF4, true, 0, "bfloat16", null), qc);
        assertTrue(config.get("quantization_config").get("llm_int8_skip_modules").isNull());
        assertEquals("llama", config.get("model_type").textValue());
    }

    @Test
    void shardedInt4KeepsTheShardsAndWritesANewIndex() throws IOException {
        RandomHfModel.Spec spec = RandomHfModel.tiny().withShards(3);
        Path in = model(spec), out = tmp.resolve("out");
        QuantSpec q = QuantSpec.of(QuantType.INT4).withGroupSize(32);
        ModelQuantizer.Summary s = ModelQuantizer.quantize(in, out, ModelQuantizer.Options.of(q));
        assertFaithful(in, out, q, projections(2));
        assertEquals(Set.of("config.json", "generation_config.json", "tokenizer.json", "model.safetensors.index.json",
                "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"), list(out));
        JsonNode index = M.readTree(out.resolve("model.safetensors.index.json").toFile());
        assertEquals(s.bytesAfter(), index.get("metadata").get("total_size").longValue());
        try (HfCheckpoint src = HfCheckpoint.open(in); HfCheckpoint dst = HfCheckpoint.open(out)) {
            // Each layer's keys sit in the shard that held its weight.
            String w = "model.layers.1.mlp.down_proj";
            assertEquals(src.fileOf(w + ".weight").path().getFileName(), dst.fileOf(w + ".qweight").path().getFileName());
            assertEquals(dst.fileOf(w + ".qweight").path(), dst.fileOf(w + ".g_idx").path());
            assertEquals(index.get("weight_map").size(), dst.names().size());
        }
        JsonNode qc = M.readTree(out.resolve("config.json").toFile()).get("quantization_config");
        assertEquals("gptq", qc.get("quant_method").textValue());
        assertEquals(32, qc.get("group_size").intValue());
        assertFalse(qc.get("sym").booleanValue());
    }

    @Test
    void skipListKeepsModulesInFullPrecisionAndNamesLmHead() throws IOException {
        Path in = model(RandomHfModel.tiny()), out = tmp.resolve("out");
        QuantSpec q = QuantSpec.of(QuantType.FP4);
        ModelQuantizer.quantize(in, out, ModelQuantizer.Options.of(q).withSkipModules(List.of("mlp.down_proj")));
        assertFaithful(in, out, q, projections(2, "mlp.down_proj"));
        JsonNode qc = M.readTree(out.resolve("config.json").toFile()).get("quantization_config");
        assertEquals("[\"mlp.down_proj\",\"lm_head\"]", qc.get("llm_int8_skip_modules").toString());
        assertEquals("fp4", qc.get("bnb_4bit_quant_type").textValue());
    }

    @Test
    void refusesANonEmptyOutputUnlessOverwriting() throws IOException {
        Path in = model(RandomHfModel.tiny()), out = tmp.resolve("out");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "mine");
        ModelQuantizer.Options opt = ModelQuantizer.Options.of(QuantSpec.nf4());
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> ModelQuantizer.quantize(in, out, opt));
        assertTrue(e.getMessage().contains("not empty (pass --overwrite"), e.getMessage());
        assertEquals("mine", Files.readString(out.resolve("keep.txt")));

        ModelQuantizer.quantize(in, out, opt.withOverwrite(true));
        assertFalse(Files.exists(out.resolve("keep.txt")));
        assertTrue(Files.exists(out.resolve("model.safetensors")));
        assertEquals(Set.of("in", "out"), list(tmp), "previous output and temporaries removed");

        assertThrows(SafetensorsException.class, () -> ModelQuantizer.quantize(in, in, opt.withOverwrite(true)));
        assertThrows(SafetensorsException.class, () -> ModelQuantizer.quantize(in, tmp, opt.withOverwrite(true)));
        assertTrue(Files.exists(in.resolve("model.safetensors")));

        SafetensorsException again = assertThrows(SafetensorsException.class, () -> ModelQuantizer.quantize(out, tmp.resolve("twice"), opt));
        assertTrue(again.getMessage().contains("already quantized"), again.getMessage());
    }

    @Test
    void aFailureLeavesNoOutput() throws IOException {
        Path in = model(RandomHfModel.tiny()), out = tmp.resolve("out");
        // in_features 64 is not a multiple of the int4 group size 128
        SafetensorsException e = assertThrows(SafetensorsException.class,
                () -> ModelQuantizer.quantize(in, out, ModelQuantizer.Options.of(QuantSpec.of(QuantType.INT4))));
        assertEquals("model.layers.0.self_attn.q_proj.weight", e.tensor());
        assertTrue(e.getMessage().contains("cannot quantize to int4"), e.getMessage());
        assertEquals(Set.of("in"), list(tmp));
        assertNull(HfCheckpoint.open(in).config().get("quantization_config"));
    }

    private static Set<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return new TreeSet<>(s.map(p -> p.getFileName().toString()).toList());
        }
    }
}
