package org.qoft4j.gguf;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.model.DecoderLayer;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.model.ModelFamily;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.model.RopeScaling;

/**
 * How a Hugging Face Llama-family model maps onto llama.cpp (facts in docs/GGUF.md): the architecture name
 * ({@code llama} for Llama 2/3.x, TinyLlama, SmolLM and Mistral; {@code qwen2}; {@code qwen3}), the
 * {@code {arch}.*} hyperparameter keys, llama.cpp's tensor names, the Q/K row permutation of the {@code llama}
 * architecture, and Llama 3's {@code rope_scaling} as the {@code rope_freqs} tensor.
 *
 * <p>Why the permutation: Hugging Face's Llama rotates pairs (i, i + d/2) of each head ("rotate_half"), llama.cpp's
 * {@code llama} architecture rotates adjacent pairs (2i, 2i + 1). Reordering the rows of q_proj and k_proj (and their
 * biases) within each head — new row 2i + s = old row s * d/2 + i — makes the two compute the same attention
 * scores. qwen2 and qwen3 use the "NeoX" rotation in llama.cpp, which is Hugging Face's, so they are not permuted.
 */
public final class LlamaCppArchitecture {
    /** One tensor of the GGUF file: its llama.cpp name, the Hugging Face tensor it comes from, and its PyTorch shape. */
    public record TensorMapping(String ggufName, String hfName, long[] shape) {
        /** {@code ne}: the shape in ggml's order. */
        public long[] ne() {
            long[] ne = new long[shape.length];
            for (int i = 0; i < shape.length; i++) ne[i] = shape[shape.length - 1 - i];
            return ne;
        }

        public boolean isMatrix() {
            return shape.length == 2;
        }
    }

    public static final String ROPE_FREQS = "rope_freqs.weight";

    private static final Map<String, String> LAYER_NAMES = new LinkedHashMap<>();

    static {
        LAYER_NAMES.put("input_layernorm", "attn_norm");
        LAYER_NAMES.put("self_attn.q_proj", "attn_q");
        LAYER_NAMES.put("self_attn.k_proj", "attn_k");
        LAYER_NAMES.put("self_attn.v_proj", "attn_v");
        LAYER_NAMES.put("self_attn.o_proj", "attn_output");
        LAYER_NAMES.put("self_attn.q_norm", "attn_q_norm");
        LAYER_NAMES.put("self_attn.k_norm", "attn_k_norm");
        LAYER_NAMES.put("post_attention_layernorm", "ffn_norm");
        LAYER_NAMES.put("mlp.gate_proj", "ffn_gate");
        LAYER_NAMES.put("mlp.up_proj", "ffn_up");
        LAYER_NAMES.put("mlp.down_proj", "ffn_down");
    }

    private final LlamaConfig config;
    private final String name;
    private final List<String> notes = new ArrayList<>();

    private LlamaCppArchitecture(LlamaConfig config, String name) {
        this.config = config;
        this.name = name;
    }

    /**
     * The mapping for {@code c}.
     *
     * @throws GgufFormatException naming what llama.cpp cannot run (an option of the config its architecture lacks)
     */
    public static LlamaCppArchitecture of(LlamaConfig c) {
        String arch = switch (c.family()) {
            case LLAMA, MISTRAL -> "llama";
            case QWEN2 -> "qwen2";
            case QWEN3 -> "qwen3";
        };
        LlamaCppArchitecture a = new LlamaCppArchitecture(c, arch);
        RopeScaling rs = c.ropeScaling();
        if (rs != null && rs.type().equals("llama3") && !arch.equals("llama"))
            throw new GgufFormatException(c.family().modelType() + " with rope_scaling of type llama3 cannot be expressed: llama.cpp reads the "
                    + "rope_freqs tensor only for the llama architecture");
        if (c.family() == ModelFamily.QWEN2 && (long) c.numHeads() * c.headDim() != c.hiddenSize())
            throw new GgufFormatException("qwen2 with head_dim " + c.headDim() + " x " + c.numHeads() + " heads != hidden_size " + c.hiddenSize()
                    + " cannot be expressed: llama.cpp's qwen2 assumes heads * head_dim = hidden_size");
        if (c.family() == ModelFamily.QWEN3 && (c.qkvBias() || c.outputBias()))
            throw new GgufFormatException("qwen3 with attention_bias=true cannot be expressed: llama.cpp's qwen3 has no attention biases");
        if (c.mlpBias() && !arch.equals("llama"))
            throw new GgufFormatException(c.family().modelType() + " with mlp_bias=true cannot be expressed in llama.cpp's " + arch);
        if (c.slidingWindow() > 0 && c.slidingWindow() < c.maxPositionEmbeddings())
            a.notes.add("sliding_window " + c.slidingWindow() + ": llama.cpp runs this model as 'llama' with full attention, which is the same "
                    + "model for contexts up to " + c.slidingWindow() + " tokens");
        return a;
    }

    /** {@code general.architecture}: llama, qwen2 or qwen3. */
    public String name() {
        return name;
    }

    /** Things the user should know about this mapping (printed by the exporter). */
    public List<String> notes() {
        return List.copyOf(notes);
    }

    public boolean permutesQk() {
        return name.equals("llama");
    }

    public boolean hasRopeFreqs() {
        return config.ropeScaling() != null && config.ropeScaling().type().equals("llama3");
    }

    /** The {@code general.architecture} and {@code {arch}.*} hyperparameter keys. */
    public Map<String, GgufValue> metadata() {
        LlamaConfig c = config;
        Map<String, GgufValue> m = new LinkedHashMap<>();
        m.put("general.architecture", GgufValue.string(name));
        String p = name + ".";
        m.put(p + "vocab_size", GgufValue.uint32(c.vocabSize()));
        m.put(p + "context_length", GgufValue.uint32(c.maxPositionEmbeddings()));
        m.put(p + "embedding_length", GgufValue.uint32(c.hiddenSize()));
        m.put(p + "block_count", GgufValue.uint32(c.numLayers()));
        m.put(p + "feed_forward_length", GgufValue.uint32(c.intermediateSize()));
        m.put(p + "attention.head_count", GgufValue.uint32(c.numHeads()));
        m.put(p + "attention.head_count_kv", GgufValue.uint32(c.numKvHeads()));
        m.put(p + "attention.key_length", GgufValue.uint32(c.headDim()));
        m.put(p + "attention.value_length", GgufValue.uint32(c.headDim()));
        m.put(p + "attention.layer_norm_rms_epsilon", GgufValue.float32((float) c.rmsNormEps()));
        m.put(p + "rope.dimension_count", GgufValue.uint32(c.headDim()));
        m.put(p + "rope.freq_base", GgufValue.float32((float) c.ropeTheta()));
        RopeScaling rs = c.ropeScaling();
        if (rs != null && rs.type().equals("linear")) {
            m.put(p + "rope.scaling.type", GgufValue.string("linear"));
            m.put(p + "rope.scaling.factor", GgufValue.float32((float) rs.factor()));
        }
        return m;
    }

    /**
     * Every tensor of the GGUF file in write order: token_embd, rope_freqs (Llama 3 scaling), each block's tensors,
     * output_norm, and output (absent with tied embeddings: llama.cpp then uses token_embd).
     */
    public List<TensorMapping> tensors() {
        Map<String, long[]> hf = ModelLoader.expectedTensors(config);
        List<TensorMapping> out = new ArrayList<>();
        out.add(new TensorMapping("token_embd.weight", "model.embed_tokens.weight", hf.get("model.embed_tokens.weight")));
        if (hasRopeFreqs()) out.add(new TensorMapping(ROPE_FREQS, null, new long[] {config.headDim() / 2}));
        for (int i = 0; i < config.numLayers(); i++) {
            String prefix = DecoderLayer.pathPrefix(i);
            for (Map.Entry<String, String> e : LAYER_NAMES.entrySet())
                for (String suffix : new String[] {".weight", ".bias"}) {
                    String hfName = prefix + e.getKey() + suffix;
                    if (hf.containsKey(hfName)) out.add(new TensorMapping("blk." + i + "." + e.getValue() + suffix, hfName, hf.get(hfName)));
                }
        }
        out.add(new TensorMapping("output_norm.weight", "model.norm.weight", hf.get("model.norm.weight")));
        if (!config.tieWordEmbeddings()) out.add(new TensorMapping("output.weight", "lm_head.weight", hf.get("lm_head.weight")));
        int mapped = (int) out.stream().filter(t -> t.hfName() != null).count();
        if (mapped != hf.size()) throw new IllegalStateException("mapped " + mapped + " of " + hf.size() + " tensors");
        return out;
    }

    /**
     * Reorders q_proj / k_proj rows (weights [rows, in] or biases [rows]) for the llama architecture; other tensors
     * (and other architectures) are returned as they are. q has {@code num_attention_heads} heads, k
     * {@code num_key_value_heads}.
     */
    public Tensor toLlamaCppLayout(String hfName, Tensor t) {
        if (!permutesQk()) return t;
        int heads;
        if (hfName.endsWith("self_attn.q_proj.weight") || hfName.endsWith("self_attn.q_proj.bias")) heads = config.numHeads();
        else if (hfName.endsWith("self_attn.k_proj.weight") || hfName.endsWith("self_attn.k_proj.bias")) heads = config.numKvHeads();
        else return t;
        return permuteRows(t, heads);
    }

    /** Within each of {@code heads} groups of d rows: new row 2i + s = old row s * d/2 + i. */
    static Tensor permuteRows(Tensor t, int heads) {
        return swapRowSplit(t, heads, 2);
    }

    /** The inverse of {@link #permuteRows}: back to Hugging Face's row order (old row s * d/2 + i = new row 2i + s). */
    static Tensor unpermuteRows(Tensor t, int heads) {
        return swapRowSplit(t, heads, t.size(0) / heads / 2);
    }

    /** Each group of d = rows / heads rows viewed as [outer, d / outer], transposed to [d / outer, outer]. */
    private static Tensor swapRowSplit(Tensor t, int heads, long outer) {
        long d = t.size(0) / heads;
        long[] shape = new long[(int) t.dim()];
        for (int i = 0; i < shape.length; i++) shape[i] = t.size(i);
        long[] split = new long[shape.length + 2];
        split[0] = heads;
        split[1] = outer;
        split[2] = d / outer;
        System.arraycopy(shape, 1, split, 3, shape.length - 1);
        return t.reshape(split).transpose(1, 2).reshape(shape).contiguous();
    }

    /** The inverse of {@link #toLlamaCppLayout}, for reading an exported file back. */
    public Tensor fromLlamaCppLayout(String hfName, Tensor t) {
        if (!permutesQk()) return t;
        if (hfName.endsWith("self_attn.q_proj.weight") || hfName.endsWith("self_attn.q_proj.bias")) return unpermuteRows(t, config.numHeads());
        if (hfName.endsWith("self_attn.k_proj.weight") || hfName.endsWith("self_attn.k_proj.bias")) return unpermuteRows(t, config.numKvHeads());
        return t;
    }

    /**
     * Llama 3's rope scaling as llama.cpp applies it: one factor per rotary frequency, by which the frequency is divided
     * (1 for short wavelengths, {@code factor} for long ones, a smooth blend between) — the values Hugging Face's
     * {@code _compute_llama3_parameters} divides by, computed as llama.cpp's converter does in float32.
     */
    public float[] ropeFreqs() {
        RopeScaling rs = config.ropeScaling();
        int dim = config.headDim();
        float base = (float) config.ropeTheta();
        float lowWavelen = (float) (rs.originalMaxPositionEmbeddings() / rs.lowFreqFactor());
        float highWavelen = (float) (rs.originalMaxPositionEmbeddings() / rs.highFreqFactor());
        float[] out = new float[dim / 2];
        for (int i = 0; i < dim / 2; i++) {
            float freq = (float) (1.0 / Math.pow(base, (float) (2 * i) / dim));
            float wavelen = (float) (2 * Math.PI / freq);
            if (wavelen < highWavelen) out[i] = 1f;
            else if (wavelen > lowWavelen) out[i] = (float) rs.factor();
            else {
                double smooth = (rs.originalMaxPositionEmbeddings() / wavelen - rs.lowFreqFactor()) / (rs.highFreqFactor() - rs.lowFreqFactor());
                out[i] = (float) (1 / ((1 - smooth) / rs.factor() + smooth));
            }
        }
        return out;
    }
}
