package org.qoft4j.gguf;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Chooses each tensor's ggml type for a {@link GgufFileType}, as llama.cpp does (docs/GGUF.md):
 * <ul>
 *   <li>1-D tensors (norms, biases, rope_freqs) stay f32, always;</li>
 *   <li>f32 / f16 / bf16: every matrix in that type; q8_0: every matrix in q8_0, f16 where a row is not a multiple of
 *       32 (the converter's fallback);</li>
 *   <li>q4_0 / q4_k_m, llama-quantize's recipe: output.weight (token_embd.weight when the embeddings are tied) gets
 *       q6_K, or q8_0 when its rows do not fit the default type's block; for q4_k_m, attn_v and ffn_down get q6_K in
 *       the layers where {@code use_more_bits(i, n)} holds — the first and last eighth of the layers and every third one
 *       between — and q4_K elsewhere;</li>
 *   <li>then the shape fallback, llama-quantize's {@code tensor_type_fallback}: rows not a multiple of 256 turn q4_K
 *       into q5_0 and q6_K into q8_0; rows not a multiple of 32 turn any of these into f16. Each fallback is
 *       recorded (the exporter prints them).</li>
 * </ul>
 * Not reproduced: llama-quantize's rules for mixture-of-experts models and for 70B Llama (attn_v in q5_K), which
 * these architectures do not reach (70B: noted in the output).
 */
public final class QuantRecipe {
    /** One tensor's choice; {@code fallback} says why it differs from what the recipe wanted, or is null. */
    public record Choice(GgmlType type, GgmlType wanted, String fallback) {}

    private final GgufFileType fileType;
    private final int numLayers;
    private final boolean tiedEmbeddings;
    private final List<String> fallbacks = new ArrayList<>();

    public QuantRecipe(GgufFileType fileType, int numLayers, boolean tiedEmbeddings) {
        this.fileType = fileType;
        this.numLayers = numLayers;
        this.tiedEmbeddings = tiedEmbeddings;
    }

    /** llama.cpp's {@code use_more_bits}: the layers q4_k_m keeps in q6_K for attn_v and ffn_down. */
    static boolean useMoreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }

    /**
     * The type of tensor {@code ggufName} with ggml dimensions {@code ne} ({@code ne[0]} = values per row).
     * Layer-dependent choices use the block number in the name ({@code blk.N.}).
     */
    public Choice choose(String ggufName, long[] ne) {
        if (ne.length < 2 || ggufName.endsWith("_norm.weight") || !ggufName.endsWith(".weight")) return new Choice(GgmlType.F32, GgmlType.F32, null);
        long cols = ne[0];
        GgmlType wanted = fileType.defaultType();
        if (!fileType.usesQuantizeRecipe()) {
            if (fileType == GgufFileType.Q8_0 && cols % 32 != 0) return fallback(ggufName, cols, wanted, GgmlType.F16);
            return new Choice(wanted, wanted, null);
        }
        boolean output = ggufName.equals("output.weight") || (tiedEmbeddings && ggufName.equals("token_embd.weight"));
        if (output) {
            wanted = cols % fileType.defaultType().blockSize() != 0 ? GgmlType.Q8_0 : GgmlType.Q6_K;
        } else if (fileType == GgufFileType.Q4_K_M) {
            int layer = layerOf(ggufName);
            if ((ggufName.endsWith(".attn_v.weight") || ggufName.endsWith(".ffn_down.weight")) && useMoreBits(layer, numLayers)) wanted = GgmlType.Q6_K;
        }
        if (cols % wanted.blockSize() == 0) return new Choice(wanted, wanted, null);
        GgmlType fb = switch (wanted) {
            case Q4_K -> GgmlType.Q5_0;
            case Q6_K -> GgmlType.Q8_0;
            default -> wanted;
        };
        if (cols % fb.blockSize() != 0) fb = GgmlType.F16;
        return fallback(ggufName, cols, wanted, fb);
    }

    private Choice fallback(String name, long cols, GgmlType wanted, GgmlType used) {
        String why = String.format(Locale.ROOT, "%s: rows of %d values are not a multiple of %d (required by %s) -> %s", name, cols, wanted.blockSize(),
                wanted.ggmlName(), used.ggmlName());
        fallbacks.add(why);
        return new Choice(used, wanted, why);
    }

    /** The fallbacks taken so far, one line each. */
    public List<String> fallbacks() {
        return List.copyOf(fallbacks);
    }

    private static int layerOf(String name) {
        if (!name.startsWith("blk.")) return -1;
        int dot = name.indexOf('.', 4);
        return Integer.parseInt(name.substring(4, dot));
    }
}
