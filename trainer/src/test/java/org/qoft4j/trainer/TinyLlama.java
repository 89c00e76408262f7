package org.qoft4j.trainer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.core.Tensors;
import org.qoft4j.data.Sample;
import org.qoft4j.model.HfModelWriter;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.model.TensorSource;

/**
 * A tiny random Llama for training tests (hidden 64, MLP 128, 2 layers, 4 heads / 2 KV heads, vocab 96) and a
 * learnable synthetic task over it. Weights are large enough (std 1/sqrt(in), embeddings std 1) that every layer
 * matters, unlike transformers' 0.02 initialization on so small a model.
 */
public final class TinyLlama {
    static final ObjectMapper JSON = new ObjectMapper();
    static final int VOCAB = 96;
    /** The task's alphabet: tokens FIRST .. FIRST + SIZE - 1. */
    static final int FIRST = 10, SIZE = 16;

    private TinyLlama() {}

    public static LlamaConfig config() {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("hidden_size", 64);
        c.put("intermediate_size", 128);
        c.put("num_hidden_layers", 2);
        c.put("num_attention_heads", 4);
        c.put("num_key_value_heads", 2);
        c.put("vocab_size", VOCAB);
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("max_position_embeddings", 256);
        c.put("tie_word_embeddings", false);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        return LlamaConfig.parse(c, "tiny test config");
    }

    /** Float32 CPU weights by Hugging Face name, each retained (release with {@link #release}). */
    public static Map<String, Tensor> weights(long seed) {
        LlamaConfig c = config();
        Random r = new Random(seed);
        Map<String, Tensor> m = new LinkedHashMap<>();
        try (PointerScope scope = new PointerScope()) {
            for (Map.Entry<String, long[]> e : ModelLoader.expectedTensors(c).entrySet()) {
                long[] s = e.getValue();
                int n = (int) (s.length == 1 ? s[0] : s[0] * s[1]);
                float[] v = new float[n];
                boolean norm = e.getKey().endsWith("norm.weight");
                double std = norm ? 0.1 : e.getKey().contains("embed_tokens") ? 1.0 : 1.0 / Math.sqrt(s[1]);
                for (int i = 0; i < n; i++) v[i] = (float) ((norm ? 1 : 0) + std * r.nextGaussian());
                m.put(e.getKey(), Tensors.of(v, s).retainReference());
            }
        }
        return m;
    }

    public static void release(Map<String, Tensor> w) {
        w.values().forEach(Tensor::releaseReference);
    }

    /** The model on the CPU in fp32, linear layers quantized with {@code quant} (null: full precision). */
    public static LlamaModel build(QuantSpec quant, long seed) {
        return build(LoadOptions.cpu().withQuant(quant), seed);
    }

    public static LlamaModel build(LoadOptions o, long seed) {
        Map<String, Tensor> w = weights(seed);
        try {
            return ModelLoader.build(config(), TensorSource.of("tiny", w), o);
        } finally {
            release(w);
        }
    }

    /** Writes the model as a Hugging Face directory (config.json + model.safetensors, fp32). */
    public static Path writeDir(Path dir, long seed) {
        Map<String, Tensor> w = weights(seed);
        try {
            HfModelWriter.write(config(), TensorSource.of("tiny", w), dir, ScalarType.Float, 0);
        } finally {
            release(w);
        }
        return dir;
    }

    /**
     * The "count up" task: a run of the alphabet starting anywhere, wrapping ({@code 13, 14, 15, ..., 25, 10, 11}),
     * after BOS; every token after BOS is scored. A frozen random model spreads its predictions over all 96 tokens;
     * the adapters can learn both that only the alphabet follows and which letter comes next.
     */
    public static List<Sample> countUp(int samples, int length, long seed) {
        Random r = new Random(seed);
        List<Sample> out = new ArrayList<>();
        for (int s = 0; s < samples; s++) {
            long[] ids = new long[length];
            ids[0] = 1;
            int x = r.nextInt(SIZE);
            for (int i = 1; i < length; i++) {
                ids[i] = FIRST + x;
                x = (x + 1) % SIZE;
            }
            out.add(Sample.allScored(ids));
        }
        return out;
    }

    /** Writes samples as pre-tokenized JSONL ({@code {"input_ids": [...], "labels": [...]}}). */
    public static Path writeJsonl(Path file, List<Sample> samples) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (Sample s : samples) {
            ObjectNode o = JSON.createObjectNode();
            ArrayNode ids = o.putArray("input_ids"), labels = o.putArray("labels");
            for (long v : s.inputIds()) ids.add(v);
            for (long v : s.labels()) labels.add(v);
            sb.append(o).append('\n');
        }
        Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
        return file;
    }

    /** A valid config for tests: the given model and data, small batches, no progress output. */
    public static TrainConfig config(Path model, Path data, Path out) {
        return TrainConfigIO.resolve(TrainConfig.defaults(), List.of(TrainConfigIO.fromOverrides(List.of(
                "model=" + model, "data=" + data, "out=" + out, "steps=10", "batch-size=2", "seq-len=64", "warmup=2", "lr=0.01",
                "progress=false", "lora-dropout=0", "threads=1"))));
    }

    /** {@code base} with {@code key=value} overrides applied. */
    public static TrainConfig with(TrainConfig base, String... overrides) {
        return TrainConfigIO.resolve(base, List.of(TrainConfigIO.fromOverrides(List.of(overrides))));
    }
}
