package org.qoft4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.core.Tensors;

/** Tiny random Llama-family models for tests: config.json text, weights, and the matching double-precision reference. */
public final class TinyModels {
    static final ObjectMapper JSON = new ObjectMapper();

    private TinyModels() {}

    /** A config.json for {@code modelType} with hidden 32, 4 heads of 8, 2 KV heads, MLP 48, vocab 50, 2 layers. */
    public static ObjectNode config(String modelType) {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add(switch (modelType) {
            case "qwen2" -> "Qwen2ForCausalLM";
            case "qwen3" -> "Qwen3ForCausalLM";
            case "mistral" -> "MistralForCausalLM";
            default -> "LlamaForCausalLM";
        });
        c.put("model_type", modelType);
        c.put("hidden_size", 32);
        c.put("intermediate_size", 48);
        c.put("num_hidden_layers", 2);
        c.put("num_attention_heads", 4);
        c.put("num_key_value_heads", 2);
        c.put("vocab_size", 50);
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("max_position_embeddings", 128);
        c.put("tie_word_embeddings", false);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        return c;
    }

    public static LlamaConfig parse(ObjectNode json) {
        return LlamaConfig.parse(json, "test config");
    }

    /**
     * Random float32 weights for every tensor {@code c} needs: matrices uniform with std about 1/sqrt(in) * 1.5
     * (so logits are O(1) and errors show), norms around 1, biases around 0.
     */
    public static Map<String, Tensor> randomWeights(LlamaConfig c, long seed) {
        Random r = new Random(seed);
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : ModelLoader.expectedTensors(c).entrySet()) {
            long[] s = e.getValue();
            int n = (int) (s.length == 1 ? s[0] : s[0] * s[1]);
            float[] v = new float[n];
            boolean norm = e.getKey().endsWith("norm.weight");
            double scale = s.length == 2 ? 2.6 / Math.sqrt(s[1]) : 0.2;
            for (int i = 0; i < n; i++) v[i] = (float) ((norm ? 1 : 0) + scale * (r.nextDouble() - 0.5));
            m.put(e.getKey(), Tensors.of(v, s).retainReference());
        }
        return m;
    }

    static Map<String, double[]> toDoubles(Map<String, Tensor> w) {
        Map<String, double[]> m = new LinkedHashMap<>();
        w.forEach((k, v) -> m.put(k, Tensors.toDoubles(v)));
        return m;
    }

    /** The reference for config {@code c} (HF rope layout) with llama3/linear scaling applied as transformers does. */
    static ReferenceLlama reference(LlamaConfig c, Map<String, Tensor> w) {
        double[] inv = ReferenceLlama.plainInvFreq(c.headDim(), c.ropeTheta());
        RopeScaling s = c.ropeScaling();
        if (s != null) {
            for (int i = 0; i < inv.length; i++) {
                if (s.type().equals("linear")) {
                    inv[i] /= s.factor();
                    continue;
                }
                // transformers' _compute_llama3_parameters, element-wise
                double lowWl = s.originalMaxPositionEmbeddings() / s.lowFreqFactor(), highWl = s.originalMaxPositionEmbeddings() / s.highFreqFactor();
                double wl = 2 * Math.PI / inv[i];
                double scaled = wl > lowWl ? inv[i] / s.factor() : inv[i];
                double smooth = (s.originalMaxPositionEmbeddings() / wl - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
                boolean medium = !(wl < highWl) && !(wl > lowWl);
                inv[i] = medium ? (1 - smooth) * scaled / s.factor() + smooth * scaled : scaled;
            }
        }
        ReferenceLlama ref = new ReferenceLlama(c.hiddenSize(), c.intermediateSize(), c.numLayers(), c.numHeads(), c.numKvHeads(), c.headDim(), c.vocabSize(),
                c.rmsNormEps(), inv, c.qkvBias(), c.outputBias(), c.mlpBias(), c.qkNorm(), c.tieWordEmbeddings(), false, toDoubles(w));
        ref.window = c.slidingWindow();
        return ref;
    }

    /** max |got - want| where {@code got} holds logits row-major and {@code want[t]} is position {@code firstRow + t}. */
    static double maxDiff(float[] got, int firstRow, double[][] want) {
        double worst = 0;
        for (int t = 0; t < want.length; t++)
            for (int v = 0; v < want[t].length; v++) worst = Math.max(worst, Math.abs(got[(firstRow + t) * want[t].length + v] - want[t][v]));
        return worst;
    }

    public static void release(Map<String, Tensor> w) {
        w.values().forEach(Tensor::releaseReference);
    }
}
