package org.qoft4j.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.DimnameListOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.model.HfModelWriter;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.model.TensorSource;
import org.qoft4j.data.TestData;

/**
 * Random-weight Hugging Face model directories shaped like real families, with the test-data byte-level tokenizer
 * (vocab 259). The weights are scaled so that every part matters — embeddings N(0, 1), matrices N(0, 1/in), the head
 * N(0, 9/in) for logits a few nats apart (so are tied embeddings, being the head), norms 1 + N(0, 0.1²), biases N(0, 0.1²) — unlike an 0.02 initialization,
 * under which a wrong head permutation or rope would barely move the logits.
 */
final class RandomModels {
    private static final ObjectMapper JSON = new ObjectMapper();

    private RandomModels() {}

    /** Llama 3-shaped: GQA (4 heads, 2 KV heads, head_dim 64), rope_theta 500000, llama3 rope_scaling that acts within a few tokens. */
    static LlamaConfig llama3() {
        ObjectNode c = base("llama", "LlamaForCausalLM", 256, 512, 2, 4, 2);
        c.put("rope_theta", 500000.0);
        ObjectNode rs = c.putObject("rope_scaling");
        rs.put("rope_type", "llama3");
        rs.put("factor", 8.0);
        rs.put("low_freq_factor", 1.0);
        rs.put("high_freq_factor", 4.0);
        rs.put("original_max_position_embeddings", 16); // wavelengths above 4 tokens are rescaled: most of them
        return LlamaConfig.parse(c, "random llama3");
    }

    /** Qwen3-shaped: q/k norm, head_dim 96 that differs from hidden / heads (256 / 4). */
    static LlamaConfig qwen3() {
        ObjectNode c = base("qwen3", "Qwen3ForCausalLM", 256, 512, 2, 4, 2);
        c.put("head_dim", 96);
        c.put("rope_theta", 1000000.0);
        return LlamaConfig.parse(c, "random qwen3");
    }

    /** Qwen2-shaped: q/k/v biases. */
    static LlamaConfig qwen2() {
        ObjectNode c = base("qwen2", "Qwen2ForCausalLM", 128, 256, 2, 4, 2);
        c.put("tie_word_embeddings", true);
        return LlamaConfig.parse(c, "random qwen2");
    }

    static ObjectNode base(String type, String arch, int hidden, int mlp, int layers, int heads, int kvHeads) {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add(arch);
        c.put("model_type", type);
        c.put("hidden_size", hidden);
        c.put("intermediate_size", mlp);
        c.put("num_hidden_layers", layers);
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", kvHeads);
        c.put("vocab_size", 259);
        c.put("rms_norm_eps", 1e-6);
        c.put("max_position_embeddings", 512);
        c.put("tie_word_embeddings", false);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        return c;
    }

    /** Writes {@code c} with random weights and the test-data tokenizer into {@code dir}. */
    static Path write(LlamaConfig c, Path dir, long seed) {
        Map<String, Tensor> w = new LinkedHashMap<>();
        try (PointerScope scope = new PointerScope()) {
            int k = 0;
            for (Map.Entry<String, long[]> e : ModelLoader.expectedTensors(c).entrySet()) {
                Generator g = torch.make_generator_cpu(seed * 1000 + k++);
                Tensor n = torch.randn(e.getValue(), new GeneratorOptional(g), new DimnameListOptional(), new TensorOptions(ScalarType.Float));
                String name = e.getKey();
                long[] s = e.getValue();
                Tensor t;
                if (name.endsWith("norm.weight")) t = n.mul(new Scalar(0.1)).add(new Scalar(1.0));
                else if (name.endsWith(".bias")) t = n.mul(new Scalar(0.1));
                else if (name.equals("model.embed_tokens.weight")) t = c.tieWordEmbeddings() ? n.mul(new Scalar(3 / Math.sqrt(s[1]))) : n; // tied: it is the head too
                else if (name.equals("lm_head.weight")) t = n.mul(new Scalar(3 / Math.sqrt(s[1])));
                else t = n.mul(new Scalar(1 / Math.sqrt(s[1])));
                w.put(name, t);
            }
            HfModelWriter.write(c, TensorSource.of("random " + c.family(), w), dir, ScalarType.Float, 0);
        }
        try {
            for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"})
                Files.copy(TestData.model().resolve(f), dir.resolve(f));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }
}
