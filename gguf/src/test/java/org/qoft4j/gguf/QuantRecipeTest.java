package org.qoft4j.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Per-tensor types against llama.cpp's rules, worked out by hand for a Llama-2-7B-shaped model (32 layers, 4096 wide, MLP 11008). */
class QuantRecipeTest {
    private static long[] ne(long cols, long rows) {
        return new long[] {cols, rows};
    }

    @Test
    void q4KmPutsQ6KWhereLlamaCppDoes() {
        QuantRecipe r = new QuantRecipe(GgufFileType.Q4_K_M, 32, false);
        // use_more_bits(i, 32): i < 4, i >= 28, or (i - 4) % 3 == 2
        List<Integer> q6 = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            GgmlType v = r.choose("blk." + i + ".attn_v.weight", ne(4096, 4096)).type();
            GgmlType down = r.choose("blk." + i + ".ffn_down.weight", ne(11008, 4096)).type();
            assertEquals(v, down, "layer " + i);
            if (v == GgmlType.Q6_K) q6.add(i);
            else assertEquals(GgmlType.Q4_K, v);
            assertEquals(GgmlType.Q4_K, r.choose("blk." + i + ".attn_q.weight", ne(4096, 4096)).type());
            assertEquals(GgmlType.Q4_K, r.choose("blk." + i + ".ffn_up.weight", ne(4096, 11008)).type());
            assertEquals(GgmlType.F32, r.choose("blk." + i + ".attn_norm.weight", new long[] {4096}).type());
        }
        assertEquals(List.of(0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31), q6);
        assertEquals(GgmlType.Q6_K, r.choose("output.weight", ne(4096, 32000)).type());
        assertEquals(GgmlType.Q4_K, r.choose("token_embd.weight", ne(4096, 32000)).type());
        assertEquals(GgmlType.F32, r.choose("rope_freqs.weight", new long[] {64}).type());
        assertEquals(List.of(), r.fallbacks());
    }

    @Test
    void tiedEmbeddingsGetTheOutputType() {
        QuantRecipe r = new QuantRecipe(GgufFileType.Q4_K_M, 16, true);
        assertEquals(GgmlType.Q6_K, r.choose("token_embd.weight", ne(2048, 128256)).type());
        assertEquals(GgmlType.Q6_K, new QuantRecipe(GgufFileType.Q4_0, 16, true).choose("token_embd.weight", ne(2048, 128256)).type());
        assertEquals(GgmlType.Q4_0, new QuantRecipe(GgufFileType.Q4_0, 16, false).choose("token_embd.weight", ne(2048, 128256)).type());
    }

    /** The demo model's widths (128, MLP 384) fit no 256-value block: llama-quantize's fallbacks, each recorded. */
    @Test
    void rowsThatDoNotFitFallBackAndSaySo() {
        QuantRecipe r = new QuantRecipe(GgufFileType.Q4_K_M, 4, false);
        QuantRecipe.Choice q = r.choose("blk.1.attn_q.weight", ne(128, 128));
        assertEquals(GgmlType.Q5_0, q.type());
        assertEquals(GgmlType.Q4_K, q.wanted());
        assertTrue(q.fallback().contains("rows of 128 values are not a multiple of 256 (required by q4_K) -> q5_0"), q.fallback());
        assertEquals(GgmlType.Q8_0, r.choose("blk.2.ffn_down.weight", ne(384, 128)).type()); // q6_K (layer 2 of 4 uses more bits) -> q8_0
        assertEquals(GgmlType.Q5_0, r.choose("blk.1.ffn_down.weight", ne(384, 128)).type());
        QuantRecipe.Choice out = r.choose("output.weight", ne(128, 259));
        assertEquals(GgmlType.Q8_0, out.type()); // llama.cpp picks q8_0 directly for an output whose rows do not fit q4_K
        assertNull(out.fallback());
        assertEquals(GgmlType.F16, r.choose("blk.2.attn_k.weight", ne(40, 8)).type()); // not even a multiple of 32
        assertEquals(4, r.fallbacks().size());

        QuantRecipe q40 = new QuantRecipe(GgufFileType.Q4_0, 4, false);
        assertEquals(GgmlType.Q8_0, q40.choose("output.weight", ne(128, 259)).type()); // q6_K wanted, 128 < 256 -> q8_0
        assertEquals(1, q40.fallbacks().size());
        assertEquals(GgmlType.Q4_0, q40.choose("blk.0.ffn_down.weight", ne(384, 128)).type());

        QuantRecipe q80 = new QuantRecipe(GgufFileType.Q8_0, 4, false);
        assertEquals(GgmlType.Q8_0, q80.choose("output.weight", ne(128, 259)).type());
        assertEquals(GgmlType.F16, q80.choose("blk.0.attn_q.weight", ne(48, 48)).type()); // the converter's f16 fallback
    }

    @Test
    void floatTypesKeepEveryMatrixInTheirType() {
        for (GgufFileType t : List.of(GgufFileType.F32, GgufFileType.F16, GgufFileType.BF16)) {
            QuantRecipe r = new QuantRecipe(t, 2, false);
            assertEquals(t.defaultType(), r.choose("output.weight", ne(40, 7)).type());
            assertEquals(GgmlType.F32, r.choose("blk.0.attn_q.bias", new long[] {40}).type());
        }
    }

    @Test
    void useMoreBitsMatchesLlamaCpp() {
        // n = 4 (the demo model): layers 0 (i < n/8 = 0? no: 4/8 = 0), 3 (>= 7*4/8 = 3), and (i - 0) % 3 == 2 -> 2
        List<Integer> l = new ArrayList<>();
        for (int i = 0; i < 4; i++) if (QuantRecipe.useMoreBits(i, 4)) l.add(i);
        assertEquals(List.of(2, 3), l);
    }
}
