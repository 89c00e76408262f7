package org.qoft4j.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.adapters.LoraConfig;
import org.qoft4j.adapters.LoraLayer;
import org.qoft4j.adapters.TargetModules;
import org.qoft4j.adapters.peft.PeftAdapterIO;
import org.qoft4j.quant.linear.DenseLinear;
import org.qoft4j.data.TestData;

/** Input export-gguf cannot express: a clear error naming the file and what was found, and no output file (nor a temporary) left behind. */
class ExportBadInputTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    Path model;
    Path outDir;

    @BeforeEach
    void copyTestModel() throws IOException {
        model = Files.createDirectories(tmp.resolve("model"));
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"))
            Files.copy(TestData.model().resolve(f), model.resolve(f));
        outDir = Files.createDirectories(tmp.resolve("out"));
    }

    private Exception fails(GgufExport.Options o) throws IOException {
        Exception e = assertThrows(Exception.class, () -> GgufExport.run(o, line -> {}));
        try (Stream<Path> s = Files.list(outDir)) {
            assertEquals(List.of(), s.toList(), "nothing may be left in the output directory after: " + e.getMessage());
        }
        return e;
    }

    private GgufExport.Options export() {
        return GgufExport.Options.of(model, outDir.resolve("m.gguf"), GgufFileType.Q4_K_M);
    }

    private ObjectNode json(String file) throws IOException {
        return (ObjectNode) JSON.readTree(model.resolve(file).toFile());
    }

    private void write(String file, ObjectNode n) {
        Tokenizers.overwrite(model.resolve(file), n);
    }

    private static void assertMentions(Exception e, String... parts) {
        for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + p + "' not in: " + e.getMessage());
    }

    @Test
    void anArchitectureLlamaCppMappingDoesNotCover() throws IOException {
        ObjectNode c = json("config.json");
        c.put("model_type", "gpt2");
        c.putArray("architectures").add("GPT2LMHeadModel");
        write("config.json", c);
        assertMentions(fails(export()), "config.json", "unsupported architecture", "gpt2", "llama, mistral, qwen2, qwen3");
    }

    @Test
    void anOptionLlamaCppLacks() throws IOException {
        ObjectNode c = json("config.json");
        c.put("model_type", "qwen3");
        c.putArray("architectures").add("Qwen3ForCausalLM");
        c.put("attention_bias", true);
        write("config.json", c);
        assertMentions(fails(export()), "qwen3", "attention_bias");
    }

    @Test
    void aTokenizerGgufCannotExpress() throws IOException {
        ObjectNode t = json("tokenizer.json");
        ((ObjectNode) t.get("model")).put("type", "WordPiece");
        write("tokenizer.json", t);
        assertMentions(fails(export()), "tokenizer.json", "WordPiece tokenizer cannot be expressed");

        t = json("tokenizer.json");
        ((ObjectNode) t.get("model")).put("type", "BPE");
        ObjectNode split = JSON.createObjectNode();
        split.put("type", "Sequence");
        ObjectNode s = split.putArray("pretokenizers").addObject();
        s.put("type", "Split");
        s.putObject("pattern").put("Regex", "\\s+");
        split.withArray("pretokenizers").addObject().put("type", "ByteLevel").put("use_regex", false);
        t.set("pre_tokenizer", split);
        write("tokenizer.json", t);
        assertMentions(fails(export()), "tokenizer.json", "byte-level pre-tokenizer [Split, ByteLevel(use_regex=false)]", "llama-bpe");

        Files.delete(model.resolve("tokenizer.json"));
        assertMentions(fails(export()), "tokenizer.json: not found");
    }

    @Test
    void aTokenizerLargerThanTheEmbedding() throws IOException {
        ObjectNode c = json("config.json");
        c.put("vocab_size", 200);
        write("config.json", c);
        assertMentions(fails(export()), "token id 258", "vocab_size 200");
    }

    /** A LoRA adapter made for a model 64 wide, given to the 128-wide test-data model. */
    @Test
    void anAdapterForAnotherModel() throws IOException {
        Path adapter = tmp.resolve("adapter");
        try (PointerScope scope = new PointerScope()) {
            DenseLinear base = new DenseLinear(torch.zeros(64, 64), null);
            LoraLayer l = new LoraLayer(base, new LoraConfig(4, 8, 0, false, TargetModules.of("q_proj")), 1, null);
            PeftAdapterIO.write(adapter, Map.of("model.layers.0.self_attn.q_proj", l), "another-model");
        }
        assertMentions(fails(export().withAdapter(adapter)), "adapter_model.safetensors", "q_proj");

        Path elsewhere = tmp.resolve("adapter2");
        try (PointerScope scope = new PointerScope()) {
            DenseLinear base = new DenseLinear(torch.zeros(128, 128), null);
            LoraLayer l = new LoraLayer(base, new LoraConfig(4, 8, 0, false, TargetModules.of("q_proj")), 1, null);
            PeftAdapterIO.write(elsewhere, Map.of("model.layers.9.self_attn.q_proj", l), "another-model");
        }
        assertMentions(fails(export().withAdapter(elsewhere)), "model.layers.9.self_attn.q_proj", "which the model does not have");
    }

    @Test
    void aMissingTensor() throws IOException {
        ObjectNode c = json("config.json");
        c.put("num_hidden_layers", 5);
        write("config.json", c);
        assertMentions(fails(export()), "missing tensor model.layers.4.");
    }

    @Test
    void anExistingFileIsKeptUnlessOverwriteIsGiven() throws IOException {
        Path out = outDir.resolve("m.gguf");
        Files.writeString(out, "precious");
        Exception e = assertThrows(IllegalArgumentException.class, () -> GgufExport.run(export(), line -> {}));
        assertMentions(e, "already exists", "--overwrite");
        assertEquals("precious", Files.readString(out));
        GgufExport.run(export().withOverwrite(true), line -> {});
        assertEquals("llama", GgufFile.read(out).get("general.architecture").asString());
    }
}
