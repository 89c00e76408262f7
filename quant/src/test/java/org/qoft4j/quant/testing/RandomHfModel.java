package org.qoft4j.quant.testing;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.hf.BnbQuantState;
import org.qoft4j.core.HfJson;
import org.qoft4j.core.safetensors.DType;
import org.qoft4j.core.safetensors.HfCheckpoint;
import org.qoft4j.core.safetensors.SafetensorsWriter;
import org.qoft4j.core.safetensors.SafetensorsWriter.Entry;

/**
 * Writes a Llama-shaped Hugging Face model directory with random weights (for tests, benchmarks and
 * the demo data): {@code config.json}, {@code generation_config.json} and {@code model.safetensors},
 * or {@code model-0000i-of-0000N.safetensors} shards plus {@code model.safetensors.index.json}.
 * Tensors are generated and written one at a time, so models larger than memory can be made.
 * Same spec and seed, same bytes.
 */
public final class RandomHfModel {
    /**
     * @param shards number of weight files (1: a single {@code model.safetensors}, no index)
     */
    public record Spec(int vocabSize, int hiddenSize, int intermediateSize, int layers, int heads, int kvHeads,
                       ScalarType dtype, boolean tiedEmbeddings, int shards, long seed) {
        public Spec {
            dtype = dtype.intern();
            if (hiddenSize % heads != 0 || heads % kvHeads != 0)
                throw new IllegalArgumentException("hidden_size must divide into heads and heads into kv heads");
            if (shards < 1) throw new IllegalArgumentException("shards must be >= 1");
            BnbQuantState.pythonDtype(dtype);
        }

        public int headDim() {
            return hiddenSize / heads;
        }

        public Spec withShards(int n) {
            return new Spec(vocabSize, hiddenSize, intermediateSize, layers, heads, kvHeads, dtype, tiedEmbeddings, n, seed);
        }

        public Spec withDtype(ScalarType d) {
            return new Spec(vocabSize, hiddenSize, intermediateSize, layers, heads, kvHeads, d, tiedEmbeddings, shards, seed);
        }
    }

    private RandomHfModel() {}

    /** 2 layers, hidden 64, intermediate 128, vocab 256, 4 heads / 2 kv heads, fp32, one file (~0.4 MB). */
    public static Spec tiny() {
        return new Spec(256, 64, 128, 2, 4, 2, ScalarType.Float, false, 1, 42);
    }

    /** The tensors of the model, in Hugging Face's order (embeddings, layer by layer, final norm, lm_head). */
    public static List<Entry> entries(Spec s) {
        DType d = DType.of(s.dtype());
        long h = s.hiddenSize(), kv = (long) s.kvHeads() * s.headDim(), ff = s.intermediateSize();
        List<Entry> e = new ArrayList<>();
        e.add(new Entry("model.embed_tokens.weight", d, new long[] {s.vocabSize(), h}));
        for (int i = 0; i < s.layers(); i++) {
            String p = "model.layers." + i + ".";
            e.add(new Entry(p + "input_layernorm.weight", d, new long[] {h}));
            e.add(new Entry(p + "self_attn.q_proj.weight", d, new long[] {h, h}));
            e.add(new Entry(p + "self_attn.k_proj.weight", d, new long[] {kv, h}));
            e.add(new Entry(p + "self_attn.v_proj.weight", d, new long[] {kv, h}));
            e.add(new Entry(p + "self_attn.o_proj.weight", d, new long[] {h, h}));
            e.add(new Entry(p + "post_attention_layernorm.weight", d, new long[] {h}));
            e.add(new Entry(p + "mlp.gate_proj.weight", d, new long[] {ff, h}));
            e.add(new Entry(p + "mlp.up_proj.weight", d, new long[] {ff, h}));
            e.add(new Entry(p + "mlp.down_proj.weight", d, new long[] {h, ff}));
        }
        e.add(new Entry("model.norm.weight", d, new long[] {h}));
        if (!s.tiedEmbeddings()) e.add(new Entry("lm_head.weight", d, new long[] {s.vocabSize(), h}));
        return e;
    }

    /** Writes the model directory {@code dir} (created if needed) and returns it. */
    public static Path write(Path dir, Spec s) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        HfJson.write(dir.resolve(HfCheckpoint.CONFIG_FILE), config(s));
        ObjectNode gen = JsonNodeFactory.instance.objectNode();
        gen.put("bos_token_id", 1).put("eos_token_id", 2).put("_from_model_config", true);
        HfJson.write(dir.resolve("generation_config.json"), gen);

        List<List<Entry>> shards = split(entries(s), s.shards());
        Map<String, String> weightMap = new LinkedHashMap<>();
        long total = 0;
        torch.manual_seed(s.seed());
        for (int i = 0; i < shards.size(); i++) {
            String file = s.shards() == 1 ? HfCheckpoint.SINGLE_FILE
                    : String.format("model-%05d-of-%05d.safetensors", i + 1, s.shards());
            try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve(file), Map.of("format", "pt"), shards.get(i))) {
                for (Entry e : shards.get(i)) {
                    try (PointerScope scope = new PointerScope()) {
                        w.write(e.name(), tensor(e, s.dtype()));
                    }
                    weightMap.put(e.name(), file);
                    total += e.byteLength();
                }
                w.commit();
            }
        }
        if (s.shards() > 1) HfCheckpoint.writeIndex(dir, total, weightMap);
        return dir;
    }

    /** Norms are ones (as initialized); everything else N(0, 0.02), like Llama's initializer_range. */
    private static Tensor tensor(Entry e, ScalarType dtype) {
        if (e.name().endsWith("norm.weight")) return torch.ones(e.shape(), new TensorOptions(dtype));
        return torch.randn(e.shape(), new TensorOptions(ScalarType.Float)).mul(new Scalar(0.02)).to(dtype);
    }

    /** Consecutive runs of roughly equal byte size; every shard gets at least one tensor. */
    private static List<List<Entry>> split(List<Entry> all, int n) {
        long total = all.stream().mapToLong(Entry::byteLength).sum();
        List<List<Entry>> out = new ArrayList<>();
        List<Entry> cur = new ArrayList<>();
        long acc = 0;
        for (int i = 0; i < all.size(); i++) {
            cur.add(all.get(i));
            acc += all.get(i).byteLength();
            int remainingShards = n - out.size() - 1;
            boolean full = acc * n >= total * (out.size() + 1L);
            if (remainingShards > 0 && (full || all.size() - i - 1 == remainingShards)) {
                out.add(cur);
                cur = new ArrayList<>();
            }
        }
        if (!cur.isEmpty()) out.add(cur);
        if (out.size() != n) throw new IllegalArgumentException(all.size() + " tensors cannot fill " + n + " shards");
        return out;
    }

    /** A transformers LlamaConfig. */
    public static ObjectNode config(Spec s) {
        ObjectNode c = JsonNodeFactory.instance.objectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("attention_bias", false);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        c.put("head_dim", s.headDim());
        c.put("hidden_act", "silu");
        c.put("hidden_size", s.hiddenSize());
        c.put("initializer_range", 0.02);
        c.put("intermediate_size", s.intermediateSize());
        c.put("max_position_embeddings", 2048);
        c.put("mlp_bias", false);
        c.put("model_type", "llama");
        c.put("num_attention_heads", s.heads());
        c.put("num_hidden_layers", s.layers());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("rms_norm_eps", 1e-05);
        c.putNull("rope_scaling");
        c.put("rope_theta", 10000.0);
        c.put("tie_word_embeddings", s.tiedEmbeddings());
        c.put("torch_dtype", BnbQuantState.pythonDtype(s.dtype()));
        c.put("use_cache", true);
        c.put("vocab_size", s.vocabSize());
        return c;
    }
}
