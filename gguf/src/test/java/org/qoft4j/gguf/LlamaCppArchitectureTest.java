package org.qoft4j.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.qoft4j.core.Tensors;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.data.TestData;

/** The Hugging Face -> llama.cpp mapping on its own: names, keys, the Q/K permutation's effect on RoPE, rope_freqs. */
class LlamaCppArchitectureTest {

    /**
     * Hugging Face rotates pairs (i, i + d/2) of a head, llama.cpp's llama architecture pairs (2i, 2i + 1), both by
     * position * theta_i. With q_proj's and k_proj's rows permuted, llama.cpp's rotation of the permuted projections
     * gives the same attention scores q·k as Hugging Face's of the original ones (GQA: 2 query heads, 1 KV head).
     */
    @Test
    void permutedRowsUnderInterleavedRopeGiveHuggingFacesScores() {
        int d = 8, heads = 2, kvHeads = 1, in = 5;
        Random r = new Random(3);
        float[] wq = new float[heads * d * in], wk = new float[kvHeads * d * in], x1 = new float[in], x2 = new float[in];
        for (float[] a : List.of(wq, wk, x1, x2)) for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
        try (PointerScope scope = new PointerScope()) {
            Tensor q = Tensors.of(wq, heads * d, in), k = Tensors.of(wk, kvHeads * d, in);
            float[] qp = Tensors.toFloats(LlamaCppArchitecture.permuteRows(q, heads)), kp = Tensors.toFloats(LlamaCppArchitecture.permuteRows(k, kvHeads));
            assertArrayEquals(wq, Tensors.toFloats(LlamaCppArchitecture.unpermuteRows(LlamaCppArchitecture.permuteRows(q, heads), heads)));
            assertFalse(java.util.Arrays.equals(wq, qp), "the permutation moves rows");
            int posQ = 7, posK = 3;
            for (int h = 0; h < heads; h++) {
                double[] qh = ropeHf(matVec(wq, h * d, d, in, x1), posQ), kh = ropeHf(matVec(wk, 0, d, in, x2), posK);
                double[] qi = ropeInterleaved(matVec(qp, h * d, d, in, x1), posQ), ki = ropeInterleaved(matVec(kp, 0, d, in, x2), posK);
                assertEquals(dot(qh, kh), dot(qi, ki), 1e-9, "head " + h);
                assertTrue(Math.abs(dot(qh, kh) - dot(ropeInterleaved(matVec(wq, h * d, d, in, x1), posQ), ropeInterleaved(matVec(wk, 0, d, in, x2), posK)))
                        > 1e-3, "without the permutation the scores would differ");
            }
        }
    }

    private static double[] matVec(float[] w, int row0, int rows, int in, float[] x) {
        double[] y = new double[rows];
        for (int i = 0; i < rows; i++) for (int j = 0; j < in; j++) y[i] += w[(row0 + i) * in + j] * (double) x[j];
        return y;
    }

    private static double theta(int i, int d) {
        return Math.pow(10000, -2.0 * i / d);
    }

    private static double[] ropeHf(double[] v, int pos) {
        int d = v.length;
        double[] o = new double[d];
        for (int i = 0; i < d / 2; i++) {
            double c = Math.cos(pos * theta(i, d)), s = Math.sin(pos * theta(i, d));
            o[i] = v[i] * c - v[i + d / 2] * s;
            o[i + d / 2] = v[i + d / 2] * c + v[i] * s;
        }
        return o;
    }

    private static double[] ropeInterleaved(double[] v, int pos) {
        int d = v.length;
        double[] o = new double[d];
        for (int i = 0; i < d / 2; i++) {
            double c = Math.cos(pos * theta(i, d)), s = Math.sin(pos * theta(i, d));
            o[2 * i] = v[2 * i] * c - v[2 * i + 1] * s;
            o[2 * i + 1] = v[2 * i] * s + v[2 * i + 1] * c;
        }
        return o;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    @Test
    void testDataModelMapsToLlama() {
        LlamaConfig c = LlamaConfig.read(TestData.model());
        LlamaCppArchitecture a = LlamaCppArchitecture.of(c);
        assertEquals("llama", a.name());
        assertTrue(a.permutesQk());
        List<String> names = new ArrayList<>();
        a.tensors().forEach(t -> names.add(t.ggufName()));
        assertEquals(3 + 4 * 9, names.size());
        assertEquals(List.of("token_embd.weight", "blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight",
                "blk.0.attn_output.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight"), names.subList(0, 10));
        assertEquals(List.of("output_norm.weight", "output.weight"), names.subList(names.size() - 2, names.size()));
        LlamaCppArchitecture.TensorMapping k = a.tensors().get(3);
        assertEquals("model.layers.0.self_attn.k_proj.weight", k.hfName());
        assertArrayEquals(new long[] {128, 64}, k.ne()); // k_proj is [2 kv heads * 32, 128]; ggml lists the row length first
        Map<String, GgufValue> m = a.metadata();
        assertEquals("llama", m.get("general.architecture").asString());
        assertEquals(256, m.get("llama.context_length").asLong());
        assertEquals(128, m.get("llama.embedding_length").asLong());
        assertEquals(4, m.get("llama.block_count").asLong());
        assertEquals(384, m.get("llama.feed_forward_length").asLong());
        assertEquals(4, m.get("llama.attention.head_count").asLong());
        assertEquals(2, m.get("llama.attention.head_count_kv").asLong());
        assertEquals(32, m.get("llama.rope.dimension_count").asLong());
        assertEquals(1e-5f, (Float) m.get("llama.attention.layer_norm_rms_epsilon").value());
        assertEquals(10000f, (Float) m.get("llama.rope.freq_base").value());
        assertEquals(GgufValueType.UINT32, m.get("llama.block_count").type());
        assertFalse(m.containsKey("llama.rope.scaling.type"));
    }

    @Test
    void qwenFamiliesKeepHuggingFacesRotationAndAddTheirTensors() {
        LlamaCppArchitecture q3 = LlamaCppArchitecture.of(RandomModels.qwen3());
        assertEquals("qwen3", q3.name());
        assertFalse(q3.permutesQk());
        List<String> names = q3.tensors().stream().map(LlamaCppArchitecture.TensorMapping::ggufName).toList();
        assertTrue(names.contains("blk.1.attn_q_norm.weight") && names.contains("blk.1.attn_k_norm.weight"), names.toString());
        assertEquals(96, q3.metadata().get("qwen3.attention.key_length").asLong());
        LlamaCppArchitecture q2 = LlamaCppArchitecture.of(RandomModels.qwen2());
        List<String> n2 = q2.tensors().stream().map(LlamaCppArchitecture.TensorMapping::ggufName).toList();
        assertTrue(n2.contains("blk.0.attn_q.bias") && n2.contains("blk.0.attn_k.bias") && n2.contains("blk.0.attn_v.bias"), n2.toString());
        assertFalse(n2.contains("blk.0.attn_output.bias"));
        assertFalse(n2.contains("output.weight"), "tied embeddings: llama.cpp uses token_embd as the output");
    }

    /**
     * Llama 3.1's rope_scaling (factor 8, low 1, high 4, original context 8192, theta 500000, head_dim 128): wavelength
     * 2π θ^(2i/128) is below 8192/4 = 2048 for i <= 28 (factor 1), above 8192 for i >= 35 (factor 8), smooth between.
     */
    @Test
    void llama31RopeFreqs() {
        ObjectNode c = RandomModels.base("llama", "LlamaForCausalLM", 4096, 14336, 1, 32, 8);
        c.put("rope_theta", 500000.0);
        ObjectNode rs = c.putObject("rope_scaling");
        rs.put("rope_type", "llama3");
        rs.put("factor", 8.0);
        rs.put("low_freq_factor", 1.0);
        rs.put("high_freq_factor", 4.0);
        rs.put("original_max_position_embeddings", 8192);
        LlamaCppArchitecture a = LlamaCppArchitecture.of(LlamaConfig.parse(c, "llama 3.1"));
        assertTrue(a.hasRopeFreqs());
        assertEquals(LlamaCppArchitecture.ROPE_FREQS, a.tensors().get(1).ggufName());
        float[] f = a.ropeFreqs();
        assertEquals(64, f.length);
        for (int i = 0; i <= 28; i++) assertEquals(1f, f[i], "i = " + i);
        for (int i = 35; i < 64; i++) assertEquals(8f, f[i], "i = " + i);
        for (int i = 29; i < 35; i++) {
            double wavelen = 2 * Math.PI * Math.pow(500000, 2.0 * i / 128);
            double smooth = (8192 / wavelen - 1) / 3;
            assertEquals(1 / ((1 - smooth) / 8 + smooth), f[i], 1e-4, "i = " + i);
            assertTrue(f[i] > 1 && f[i] < 8);
        }
    }

    @Test
    void linearRopeScalingBecomesKeys() {
        ObjectNode c = RandomModels.base("llama", "LlamaForCausalLM", 64, 64, 1, 2, 2);
        c.putObject("rope_scaling").put("type", "linear").put("factor", 4.0);
        Map<String, GgufValue> m = LlamaCppArchitecture.of(LlamaConfig.parse(c, "linear")).metadata();
        assertEquals("linear", m.get("llama.rope.scaling.type").asString());
        assertEquals(4f, (Float) m.get("llama.rope.scaling.factor").value());
    }

    @Test
    void whatLlamaCppCannotRunIsRefused() {
        ObjectNode c = RandomModels.base("qwen2", "Qwen2ForCausalLM", 64, 64, 1, 2, 2);
        c.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0).put("original_max_position_embeddings", 16);
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> LlamaCppArchitecture.of(LlamaConfig.parse(c, "qwen2 + llama3 rope")));
        assertTrue(e.getMessage().contains("rope_freqs"), e.getMessage());
        ObjectNode m = RandomModels.base("mistral", "MistralForCausalLM", 64, 64, 1, 2, 2);
        m.put("sliding_window", 32);
        LlamaCppArchitecture mistral = LlamaCppArchitecture.of(LlamaConfig.parse(m, "mistral"));
        assertEquals("llama", mistral.name());
        assertTrue(mistral.notes().get(0).contains("sliding_window 32"), mistral.notes().toString());
    }
}
