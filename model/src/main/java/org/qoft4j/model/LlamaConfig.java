package org.qoft4j.model;

import org.qoft4j.core.ParseErrors;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A Llama-family decoder's shape and options: what {@code config.json} says, with transformers' defaults for
 * what it leaves out. Family differences (bias layout, q/k norm, default head size) are resolved here so the
 * model reads plain flags.
 *
 * @param qkvBias           q, k and v projections carry a bias (Qwen2 always; Llama/Qwen3 with attention_bias)
 * @param outputBias        o_proj carries a bias (Llama/Qwen3 with attention_bias)
 * @param mlpBias           gate/up/down carry a bias (Llama's mlp_bias)
 * @param qkNorm            RMSNorm over each head of q and k before RoPE (Qwen3)
 * @param ropeScaling       null when positions are not rescaled
 * @param slidingWindow     0, or the number of most recent positions a token may attend to (Mistral)
 * @param bosTokenId        null when the model has none
 * @param eosTokenIds       stop tokens (config.json's eos_token_id, an int or a list)
 * @param torchDtype        the checkpoint's stored dtype as config.json names it ("bfloat16", ...), or null
 */
public record LlamaConfig(ModelFamily family, List<String> architectures,
                          int hiddenSize, int intermediateSize, int numLayers, int numHeads, int numKvHeads, int headDim,
                          int vocabSize, double rmsNormEps, double ropeTheta, RopeScaling ropeScaling, int maxPositionEmbeddings,
                          boolean tieWordEmbeddings, boolean qkvBias, boolean outputBias, boolean mlpBias, boolean qkNorm,
                          int slidingWindow, Long bosTokenId, List<Long> eosTokenIds, String torchDtype) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public LlamaConfig {
        architectures = List.copyOf(architectures);
        eosTokenIds = List.copyOf(eosTokenIds);
        String bad = null;
        if (hiddenSize <= 0 || intermediateSize <= 0 || numLayers <= 0 || numHeads <= 0 || numKvHeads <= 0 || headDim <= 0 || vocabSize <= 0)
            bad = "sizes must be positive: hidden_size " + hiddenSize + ", intermediate_size " + intermediateSize + ", num_hidden_layers "
                    + numLayers + ", num_attention_heads " + numHeads + ", num_key_value_heads " + numKvHeads + ", head_dim " + headDim
                    + ", vocab_size " + vocabSize;
        else if (numHeads % numKvHeads != 0)
            bad = "num_attention_heads (" + numHeads + ") must be a multiple of num_key_value_heads (" + numKvHeads + ")";
        else if (headDim % 2 != 0)
            bad = "head_dim (" + headDim + ") must be even for rotary embeddings";
        else if (!(rmsNormEps > 0) || !(ropeTheta > 0))
            bad = "rms_norm_eps and rope_theta must be positive";
        if (bad != null) throw new ModelFormatException("config: " + bad);
    }

    /** Reads {@code config.json} (a file, or a model directory holding one). */
    public static LlamaConfig read(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("config.json") : path;
        if (!Files.isRegularFile(file)) throw new ModelFormatException(file + ": not found (a Hugging Face model directory has a config.json)");
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(file + ": not valid JSON: " + ParseErrors.describe(e), e);
        }
        return parse(root, file.toString());
    }

    /** Maps a parsed config.json; {@code source} names it in error messages. */
    public static LlamaConfig parse(JsonNode c, String source) {
        if (c == null || !c.isObject()) throw new ModelFormatException(source + ": expected a JSON object");
        try {
            List<String> archs = new ArrayList<>();
            c.path("architectures").forEach(a -> archs.add(a.asText()));
            String modelType = c.hasNonNull("model_type") ? c.get("model_type").asText() : null;
            ModelFamily family = ModelFamily.of(modelType, archs, source);
            if (!archs.isEmpty() && archs.stream().noneMatch(a -> a.endsWith("ForCausalLM")))
                throw new ModelFormatException(source + ": architectures " + archs + " has no *ForCausalLM head; only causal language models load");
            String act = c.path("hidden_act").asText("silu");
            if (!act.equals("silu")) throw new ModelFormatException(source + ": hidden_act '" + act + "' is not supported (Llama-family models use silu)");

            int hidden = requiredInt(c, "hidden_size", source);
            int heads = requiredInt(c, "num_attention_heads", source);
            int kvHeads = c.hasNonNull("num_key_value_heads") ? c.get("num_key_value_heads").asInt() : heads;
            int headDim;
            if (c.hasNonNull("head_dim")) headDim = c.get("head_dim").asInt();
            else if (family == ModelFamily.QWEN3) headDim = 128;
            else if (hidden % heads != 0)
                throw new ModelFormatException(source + ": hidden_size (" + hidden + ") must be a multiple of num_attention_heads (" + heads + ") when head_dim is absent");
            else headDim = hidden / heads;

            boolean attentionBias = c.path("attention_bias").asBoolean(false);
            boolean qkvBias = family == ModelFamily.QWEN2 || (family != ModelFamily.MISTRAL && attentionBias);
            boolean outputBias = (family == ModelFamily.LLAMA || family == ModelFamily.QWEN3) && attentionBias;
            boolean mlpBias = family == ModelFamily.LLAMA && c.path("mlp_bias").asBoolean(false);

            // transformers v5 moves rope_theta and the scaling into rope_parameters.
            JsonNode rope = c.has("rope_parameters") && c.get("rope_parameters").isObject() ? c.get("rope_parameters") : c;
            double theta = rope.path("rope_theta").asDouble(c.path("rope_theta").asDouble(10000.0));
            RopeScaling scaling = ropeScaling(rope == c ? c.get("rope_scaling") : rope, source);

            int window = 0;
            if (family == ModelFamily.MISTRAL && c.hasNonNull("sliding_window")) window = c.get("sliding_window").asInt();
            if ((family == ModelFamily.QWEN2 || family == ModelFamily.QWEN3) && c.path("use_sliding_window").asBoolean(false))
                throw new ModelFormatException(source + ": use_sliding_window=true (per-layer sliding windows) is not supported");

            List<Long> eos = new ArrayList<>();
            JsonNode e = c.get("eos_token_id");
            if (e != null && e.isArray()) e.forEach(x -> eos.add(x.asLong()));
            else if (e != null && e.isNumber()) eos.add(e.asLong());
            Long bos = c.hasNonNull("bos_token_id") && c.get("bos_token_id").isNumber() ? c.get("bos_token_id").asLong() : null;
            String dtype = c.hasNonNull("torch_dtype") ? c.get("torch_dtype").asText() : c.hasNonNull("dtype") ? c.get("dtype").asText() : null;

            return new LlamaConfig(family, archs, hidden, requiredInt(c, "intermediate_size", source), requiredInt(c, "num_hidden_layers", source),
                    heads, kvHeads, headDim, requiredInt(c, "vocab_size", source), c.path("rms_norm_eps").asDouble(1e-6), theta, scaling,
                    c.path("max_position_embeddings").asInt(2048), c.path("tie_word_embeddings").asBoolean(false),
                    qkvBias, outputBias, mlpBias, family == ModelFamily.QWEN3, Math.max(0, window), bos, eos, dtype);
        } catch (ModelFormatException ex) {
            if (ex.getMessage().startsWith("config: ")) throw new ModelFormatException(source + ": " + ex.getMessage().substring(8), ex);
            throw ex;
        } catch (IllegalArgumentException ex) {
            throw new ModelFormatException(source + ": " + ex.getMessage(), ex);
        }
    }

    private static RopeScaling ropeScaling(JsonNode r, String source) {
        if (r == null || r.isNull()) return null;
        String type = r.hasNonNull("rope_type") ? r.get("rope_type").asText() : r.path("type").asText("default");
        if (type.equals("default")) return null;
        if (!r.hasNonNull("factor")) throw new ModelFormatException(source + ": rope_scaling of type '" + type + "' needs a factor");
        double factor = r.get("factor").asDouble();
        if (type.equals("linear")) return RopeScaling.linear(factor);
        return new RopeScaling(type, factor, r.path("low_freq_factor").asDouble(1.0), r.path("high_freq_factor").asDouble(4.0),
                r.path("original_max_position_embeddings").asInt(8192));
    }

    private static int requiredInt(JsonNode c, String key, String source) {
        JsonNode v = c.get(key);
        if (v == null || !v.canConvertToInt()) throw new ModelFormatException(source + ": missing or non-integer '" + key + "'");
        return v.asInt();
    }

    /** Heads of q sharing one k/v head. */
    public int groupSize() {
        return numHeads / numKvHeads;
    }

    /** config.json for this model, readable by transformers and by {@link #parse}. */
    public ObjectNode toJson() {
        ObjectNode c = JSON.createObjectNode();
        ArrayNode a = c.putArray("architectures");
        if (architectures.isEmpty()) a.add(family.architecture());
        else architectures.forEach(a::add);
        c.put("model_type", family.modelType());
        c.put("hidden_size", hiddenSize);
        c.put("intermediate_size", intermediateSize);
        c.put("num_hidden_layers", numLayers);
        c.put("num_attention_heads", numHeads);
        c.put("num_key_value_heads", numKvHeads);
        c.put("head_dim", headDim);
        c.put("vocab_size", vocabSize);
        c.put("hidden_act", "silu");
        c.put("rms_norm_eps", rmsNormEps);
        c.put("rope_theta", ropeTheta);
        if (ropeScaling != null) {
            ObjectNode r = c.putObject("rope_scaling");
            r.put("rope_type", ropeScaling.type());
            r.put("factor", ropeScaling.factor());
            if (ropeScaling.type().equals("llama3")) {
                r.put("low_freq_factor", ropeScaling.lowFreqFactor());
                r.put("high_freq_factor", ropeScaling.highFreqFactor());
                r.put("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
            }
        }
        c.put("max_position_embeddings", maxPositionEmbeddings);
        c.put("tie_word_embeddings", tieWordEmbeddings);
        switch (family) {
            case LLAMA -> {
                if (qkvBias != outputBias) throw new IllegalStateException("llama's attention_bias covers q, k, v and o together");
                c.put("attention_bias", qkvBias);
                c.put("mlp_bias", mlpBias);
            }
            case QWEN3 -> c.put("attention_bias", qkvBias);
            case MISTRAL -> {
                if (slidingWindow > 0) c.put("sliding_window", slidingWindow);
                else c.putNull("sliding_window");
            }
            case QWEN2 -> c.put("use_sliding_window", false);
        }
        if (bosTokenId != null) c.put("bos_token_id", bosTokenId);
        if (eosTokenIds.size() == 1) c.put("eos_token_id", eosTokenIds.get(0));
        else if (!eosTokenIds.isEmpty()) eosTokenIds.forEach(c.putArray("eos_token_id")::add);
        if (torchDtype != null) c.put("torch_dtype", torchDtype);
        return c;
    }

    /** Writes {@link #toJson()} to {@code file} atomically. */
    public void write(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), toJson());
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /** A copy with {@code torch_dtype} set. */
    public LlamaConfig withTorchDtype(String dtype) {
        return new LlamaConfig(family, architectures, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, vocabSize,
                rmsNormEps, ropeTheta, ropeScaling, maxPositionEmbeddings, tieWordEmbeddings, qkvBias, outputBias, mlpBias, qkNorm,
                slidingWindow, bosTokenId, eosTokenIds, dtype);
    }
}
