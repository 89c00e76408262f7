package org.qoft4j.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The shape of a random-weight Llama given as text, for benchmarks and comparisons that need no model on disk
 * ({@code --random-model 1b}, {@code --random-model 1b,layers=2}, {@code --random-model hidden=1024,layers=8,...}).
 * A spec is an optional preset followed by {@code key=value} overrides, comma-separated; without a preset the
 * keys apply to {@code 1b}. Keys: hidden, intermediate, layers, heads, kv-heads, head-dim (default hidden / heads),
 * vocab, tied (true/false). Build the model with {@link ModelLoader#build} and {@link RandomWeights}.
 */
public final class RandomLlama {
    /**
     * Presets: {@code 1b} is Llama-shaped ~1.1 B parameters (TinyLlama's shape with 16 layers); {@code d1024} the
     * model of the training benchmarks before (docs/BENCHMARKS.md, Training); {@code bench} the CPU benchmark model
     * of {@code ./qoft4j bench}: 2048-wide layers whose weights dominate memory, with a small vocabulary.
     */
    public static final Map<String, String> PRESETS = Map.of(
            "1b", "hidden=2048,intermediate=8192,layers=16,heads=32,kv-heads=8,vocab=32000",
            "d1024", "hidden=1024,intermediate=2816,layers=8,heads=16,kv-heads=16,vocab=32000",
            "bench", "hidden=2048,intermediate=5632,layers=8,heads=16,kv-heads=16,vocab=8192");
    private static final List<String> KEYS = List.of("hidden", "intermediate", "layers", "heads", "kv-heads", "head-dim", "vocab", "tied");

    private RandomLlama() {}

    /** The config a spec describes; bad keys or values raise a {@link ModelFormatException} naming them. */
    public static LlamaConfig parse(String spec) {
        Map<String, String> v = values(spec);
        int hidden = number(v, "hidden", spec), heads = number(v, "heads", spec);
        int headDim = v.containsKey("head-dim") ? number(v, "head-dim", spec) : hidden / heads;
        if (!v.containsKey("head-dim") && hidden % heads != 0)
            throw new ModelFormatException("random model '" + spec + "': hidden " + hidden + " is not a multiple of heads " + heads + " (give head-dim)");
        String tied = v.getOrDefault("tied", "false");
        if (!tied.equals("true") && !tied.equals("false"))
            throw new ModelFormatException("random model '" + spec + "': tied must be true or false, got '" + tied + "'");
        return new LlamaConfig(ModelFamily.LLAMA, List.of("LlamaForCausalLM"), hidden, number(v, "intermediate", spec), number(v, "layers", spec),
                heads, number(v, "kv-heads", spec), headDim, number(v, "vocab", spec), 1e-5, 10000, null, 4096,
                tied.equals("true"), false, false, false, false, 0, 1L, List.of(2L), null);
    }

    /** One line for reports: the shape and the parameter count. */
    public static String describe(LlamaConfig c) {
        long params = 0;
        for (long[] s : ModelLoader.expectedTensors(c).values()) {
            long n = 1;
            for (long d : s) n *= d;
            params += n;
        }
        return String.format(Locale.ROOT, "random Llama: hidden %d, %d layers, %d/%d heads, MLP %d, vocab %d (%.3f B parameters)",
                c.hiddenSize(), c.numLayers(), c.numHeads(), c.numKvHeads(), c.intermediateSize(), c.vocabSize(), params / 1e9);
    }

    private static Map<String, String> values(String spec) {
        if (spec == null || spec.isBlank()) throw new ModelFormatException("random model: empty spec (e.g. 1b or 1b,layers=2)");
        Map<String, String> v = new LinkedHashMap<>();
        String[] parts = spec.split(",");
        int first = 0;
        String preset = PRESETS.get(parts[0].trim().toLowerCase(Locale.ROOT));
        if (preset != null) first = 1;
        else if (!parts[0].contains("="))
            throw new ModelFormatException("random model '" + spec + "': unknown preset '" + parts[0] + "', expected one of " + PRESETS.keySet());
        for (String kv : (preset != null ? preset : PRESETS.get("1b")).split(",")) put(v, kv, spec);
        for (int i = first; i < parts.length; i++) put(v, parts[i].trim(), spec);
        return v;
    }

    private static void put(Map<String, String> v, String kv, String spec) {
        int eq = kv.indexOf('=');
        if (eq <= 0) throw new ModelFormatException("random model '" + spec + "': expected key=value, got '" + kv + "'");
        String key = kv.substring(0, eq).trim().toLowerCase(Locale.ROOT);
        if (!KEYS.contains(key)) throw new ModelFormatException("random model '" + spec + "': unknown key '" + key + "', expected one of " + KEYS);
        v.put(key, kv.substring(eq + 1).trim());
    }

    private static int number(Map<String, String> v, String key, String spec) {
        try {
            int n = Integer.parseInt(v.get(key));
            if (n > 0) return n;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new ModelFormatException("random model '" + spec + "': " + key + " must be a positive integer, got '" + v.get(key) + "'");
    }
}
