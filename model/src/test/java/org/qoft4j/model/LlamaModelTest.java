package org.qoft4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import org.qoft4j.core.Tensors;

/** The project's forward pass against an independent double-precision computation from the definitions. */
class LlamaModelTest {
    static final double TOL = 1e-5;

    static Stream<Arguments> families() {
        ObjectNode llama3 = TinyModels.config("llama");
        ObjectNode rs = llama3.putObject("rope_scaling");
        rs.put("rope_type", "llama3");
        rs.put("factor", 8.0);
        rs.put("low_freq_factor", 1.0);
        rs.put("high_freq_factor", 4.0);
        rs.put("original_max_position_embeddings", 64);
        ObjectNode llamaBias = TinyModels.config("llama");
        llamaBias.put("attention_bias", true);
        llamaBias.put("mlp_bias", true);
        llamaBias.put("num_key_value_heads", 4);
        ObjectNode qwen2 = TinyModels.config("qwen2");
        qwen2.put("tie_word_embeddings", true);
        qwen2.put("rope_theta", 1000000.0);
        ObjectNode qwen3 = TinyModels.config("qwen3");
        qwen3.put("head_dim", 16);
        qwen3.put("num_key_value_heads", 1);
        ObjectNode mistral = TinyModels.config("mistral");
        mistral.put("sliding_window", 4);
        ObjectNode linear = TinyModels.config("llama");
        linear.putObject("rope_scaling").put("type", "linear").put("factor", 2.0);
        return Stream.of(Arguments.of("llama3 rope scaling, GQA", llama3), Arguments.of("llama q/k/v/o and mlp bias, MHA", llamaBias),
                Arguments.of("qwen2 q/k/v bias, tied", qwen2), Arguments.of("qwen3 q/k norm, head_dim 16, MQA", qwen3),
                Arguments.of("mistral sliding window 4", mistral), Arguments.of("llama linear rope scaling", linear));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("families")
    void logitsMatchDoublePrecisionReference(String name, ObjectNode json) {
        LlamaConfig c = TinyModels.parse(json);
        Map<String, Tensor> w = TinyModels.randomWeights(c, 7);
        ReferenceLlama ref = TinyModels.reference(c, w);
        Random r = new Random(3);
        long[][] rows = new long[2][9];
        for (long[] row : rows) for (int i = 0; i < row.length; i++) row[i] = r.nextInt(c.vocabSize());
        try (PointerScope scope = new PointerScope(); LlamaModel m = ModelLoader.build(c, TensorSource.of("memory", w), LoadOptions.cpu())) {
            Tensor ids = Tensors.ofLongs(new long[] {rows[0][0], rows[0][1], rows[0][2], rows[0][3], rows[0][4], rows[0][5], rows[0][6], rows[0][7], rows[0][8],
                    rows[1][0], rows[1][1], rows[1][2], rows[1][3], rows[1][4], rows[1][5], rows[1][6], rows[1][7], rows[1][8]}, 2, 9);
            float[] got = Tensors.toFloats(m.forward(ids));
            double worst = 0;
            for (int b = 0; b < 2; b++) worst = Math.max(worst, TinyModels.maxDiff(got, b * 9, ref.forward(rows[b])));
            assertTrue(worst < TOL, name + ": max |logit - reference| = " + worst);
        } finally {
            TinyModels.release(w);
        }
    }

    @Test
    void packedSamplesMatchTheirSeparateReferenceAndDoNotSeeEachOther() {
        LlamaConfig c = TinyModels.parse(TinyModels.config("llama"));
        Map<String, Tensor> w = TinyModels.randomWeights(c, 11);
        ReferenceLlama ref = TinyModels.reference(c, w);
        long[] a = {5, 9, 13, 2}, b = {7, 7, 40}, pad = {0, 0};
        try (PointerScope scope = new PointerScope(); LlamaModel m = ModelLoader.build(c, TensorSource.of("memory", w), LoadOptions.cpu())) {
            float[] logits = packedLogits(m, a, b, pad);
            assertClose(ref.forward(a), logits, 0, c.vocabSize(), "sample A packed first");
            assertClose(ref.forward(b), logits, a.length, c.vocabSize(), "sample B packed second (positions restart)");
            // changing B changes nothing about A; changing A nothing about B
            float[] changedB = packedLogits(m, a, new long[] {8, 30, 1}, pad);
            float[] changedA = packedLogits(m, new long[] {44, 3, 3, 3}, b, pad);
            for (int i = 0; i < a.length * c.vocabSize(); i++) assertEquals(logits[i], changedB[i], 1e-6, "A's logit " + i + " moved when B changed");
            for (int i = a.length * c.vocabSize(); i < (a.length + b.length) * c.vocabSize(); i++)
                assertEquals(logits[i], changedA[i], 1e-6, "B's logit " + i + " moved when A changed");
            for (float f : logits) assertTrue(Float.isFinite(f), "padding must not produce NaN");
        } finally {
            TinyModels.release(w);
        }
    }

    private static float[] packedLogits(LlamaModel m, long[] a, long[] b, long[] pad) {
        int t = a.length + b.length + pad.length;
        long[] ids = new long[t], pos = new long[t], seq = new long[t];
        for (int i = 0; i < t; i++) {
            if (i < a.length) { ids[i] = a[i]; pos[i] = i; seq[i] = 0; }
            else if (i < a.length + b.length) { ids[i] = b[i - a.length]; pos[i] = i - a.length; seq[i] = 1; }
            else { ids[i] = pad[i - a.length - b.length]; pos[i] = 0; seq[i] = -1; }
        }
        Tensor idT = Tensors.ofLongs(ids, 1, t);
        return Tensors.toFloats(m.forward(idT, m.packedContext(Tensors.ofLongs(pos, 1, t), Tensors.ofLongs(seq, 1, t))));
    }

    private static void assertClose(double[][] want, float[] got, int offset, int vocab, String what) {
        double worst = TinyModels.maxDiff(got, offset, want);
        assertTrue(worst < TOL, what + ": max diff " + worst);
    }

    @Test
    void kvCacheDecodingReproducesFullForward() {
        ObjectNode json = TinyModels.config("mistral");
        json.put("sliding_window", 5);
        LlamaConfig c = TinyModels.parse(json);
        Map<String, Tensor> w = TinyModels.randomWeights(c, 5);
        long[] ids = {3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9};
        try (PointerScope scope = new PointerScope(); LlamaModel m = ModelLoader.build(c, TensorSource.of("memory", w), LoadOptions.cpu());
             KvCache cache = new KvCache(c, 1, ids.length, m.device(), m.dtype())) {
            float[] full = Tensors.toFloats(m.forward(Tensors.ofLongs(ids, 1, ids.length)));
            // prefill 4 tokens, then 3 one at a time, then a chunk of 4 against the cache
            float[] p1 = Tensors.toFloats(m.forward(Tensors.ofLongs(java.util.Arrays.copyOfRange(ids, 0, 4), 1, 4), cache));
            float[][] steps = new float[3][];
            for (int i = 0; i < 3; i++) steps[i] = Tensors.toFloats(m.forward(Tensors.ofLongs(new long[] {ids[4 + i]}, 1, 1), cache));
            float[] p3 = Tensors.toFloats(m.forward(Tensors.ofLongs(java.util.Arrays.copyOfRange(ids, 7, 11), 1, 4), cache));
            int v = c.vocabSize();
            for (int i = 0; i < 4 * v; i++) assertEquals(full[i], p1[i], 1e-5, "prefill");
            for (int s = 0; s < 3; s++) for (int j = 0; j < v; j++) assertEquals(full[(4 + s) * v + j], steps[s][j], 1e-5, "decode step " + s);
            for (int i = 0; i < 4 * v; i++) assertEquals(full[7 * v + i], p3[i], 1e-5, "chunk after cache");
            assertEquals(11, cache.length());
            assertThrows(IllegalStateException.class, () -> m.forward(Tensors.ofLongs(new long[] {1}, 1, 1), cache));
        } finally {
            TinyModels.release(w);
        }
    }

    @Test
    void chunkedNllEqualsOneChunkAndSkipsIgnoredLabels() {
        LlamaConfig c = TinyModels.parse(TinyModels.config("llama"));
        Map<String, Tensor> w = TinyModels.randomWeights(c, 13);
        try (PointerScope scope = new PointerScope(); LlamaModel m = ModelLoader.build(c, TensorSource.of("memory", w), LoadOptions.cpu())) {
            long[] ids = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
            long[] labels = {-100, 4, -100, 6, 7, 8, -100, 10, 11, 12};
            Tensor h = m.embed(Tensors.ofLongs(ids, 2, 5));
            AttentionContext ctx = m.causalContext(2, 5);
            for (DecoderLayer l : m.layers()) h = l.forward(h, ctx);
            Tensor y = Tensors.ofLongs(labels, 2, 5);
            NextTokenLoss.Sum one = NextTokenLoss.value(m, h, y, 1000), small = NextTokenLoss.value(m, h, y, 2);
            NextTokenLoss.WithGrad withGrad = NextTokenLoss.valueAndGrad(m, h, y, 1.0, 4);
            // row 0 scores labels 1, 3, 4 (label 0 has no context); row 1 scores 7, 8, 9
            assertEquals(6, one.tokens());
            assertEquals(one.nll().item_double(), small.nll().item_double(), 1e-5);
            assertEquals(one.nll().item_double(), withGrad.nll().item_double(), 1e-5, "one loss in both forms");
            assertEquals(6, withGrad.tokens());
            float[] logits = Tensors.toFloats(m.finalNormAndHead(h));
            double want = 0;
            int v = c.vocabSize();
            for (int i : new int[] {1, 3, 4, 7, 8, 9}) { // flat position i is predicted from flat position i - 1 of the same row
                int row = i / 5, at = row * 5 + (i % 5) - 1;
                double max = Double.NEGATIVE_INFINITY, z = 0;
                for (int j = 0; j < v; j++) max = Math.max(max, logits[at * v + j]);
                for (int j = 0; j < v; j++) z += Math.exp(logits[at * v + j] - max);
                want += max + Math.log(z) - logits[at * v + (int) labels[i]];
            }
            assertEquals(want, one.nll().item_double(), 1e-4);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> NextTokenLoss.value(m, m.embed(Tensors.ofLongs(new long[] {1, 2}, 1, 2)), Tensors.ofLongs(new long[] {1, 77}, 1, 2)));
            assertTrue(e.getMessage().contains("label 77 is outside the vocabulary"), e.getMessage());
        } finally {
            TinyModels.release(w);
        }
    }

    @Test
    void bf16ComputeStaysCloseToFp32() {
        LlamaConfig c = TinyModels.parse(TinyModels.config("qwen3"));
        Map<String, Tensor> w = TinyModels.randomWeights(c, 19);
        long[] ids = {1, 7, 9, 20, 31, 4, 4, 2};
        try (PointerScope scope = new PointerScope(); LlamaModel f = ModelLoader.build(c, TensorSource.of("memory", w), LoadOptions.cpu());
             LlamaModel b = ModelLoader.build(c, TensorSource.of("memory", w), LoadOptions.cpu().withDtype(org.bytedeco.pytorch.global.torch.ScalarType.BFloat16))) {
            float[] lf = Tensors.toFloats(f.forward(Tensors.ofLongs(ids, 1, ids.length)));
            Tensor lb = b.forward(Tensors.ofLongs(ids, 1, ids.length));
            assertEquals(org.bytedeco.pytorch.global.torch.ScalarType.BFloat16, lb.scalar_type().intern());
            float[] lbf = Tensors.toFloats(lb);
            double worst = 0, scale = 0;
            for (int i = 0; i < lf.length; i++) {
                worst = Math.max(worst, Math.abs(lf[i] - lbf[i]));
                scale = Math.max(scale, Math.abs(lf[i]));
            }
            assertTrue(worst > 0 && worst < 0.05 * Math.max(1, scale), "bf16 vs fp32 logits: max diff " + worst + " (max |logit| " + scale + ")");
        } finally {
            TinyModels.release(w);
        }
    }

    /** bf16 on the CPU attends in fp32 (DecoderLayer.attention): packed (masked) logits stay close to fp32 and padding stays finite. */
    @Test
    void bf16PackedAttentionStaysCloseToFp32() {
        LlamaConfig c = TinyModels.parse(TinyModels.config("llama"));
        Map<String, Tensor> w = TinyModels.randomWeights(c, 23);
        long[] a = {5, 9, 13, 2}, b = {7, 7, 40}, pad = {0, 0};
        try (PointerScope scope = new PointerScope(); LlamaModel f = ModelLoader.build(c, TensorSource.of("memory", w), LoadOptions.cpu());
             LlamaModel bf = ModelLoader.build(c, TensorSource.of("memory", w), LoadOptions.cpu().withDtype(org.bytedeco.pytorch.global.torch.ScalarType.BFloat16))) {
            float[] lf = packedLogits(f, a, b, pad), lb = packedLogits(bf, a, b, pad);
            int real = (a.length + b.length) * c.vocabSize();
            double worst = 0, scale = 0;
            for (int i = 0; i < real; i++) {
                worst = Math.max(worst, Math.abs(lf[i] - lb[i]));
                scale = Math.max(scale, Math.abs(lf[i]));
            }
            assertTrue(worst > 0 && worst < 0.05 * Math.max(1, scale), "bf16 vs fp32 packed logits: max diff " + worst + " (max |logit| " + scale + ")");
            for (float x : lb) assertTrue(Float.isFinite(x), "bf16 padding rows must not produce NaN");
        } finally {
            TinyModels.release(w);
        }
    }

    @Test
    void randomWeightsAreSeededPerTensorAndLeaveTheGlobalGeneratorAlone() {
        LlamaConfig c = TinyModels.parse(TinyModels.config("qwen2"));
        try (PointerScope scope = new PointerScope()) {
            org.bytedeco.pytorch.global.torch.manual_seed(5);
            float before = org.bytedeco.pytorch.global.torch.rand(1).item_float();
            org.bytedeco.pytorch.global.torch.manual_seed(5);
            RandomWeights a = new RandomWeights(c, 1), b = new RandomWeights(c, 1), other = new RandomWeights(c, 2);
            float[] q = Tensors.toFloats(a.load("model.layers.0.self_attn.q_proj.weight"));
            assertEquals(before, org.bytedeco.pytorch.global.torch.rand(1).item_float(), "global RNG untouched");
            assertTrue(java.util.Arrays.equals(q, Tensors.toFloats(b.load("model.layers.0.self_attn.q_proj.weight"))), "same seed, same tensor");
            assertTrue(!java.util.Arrays.equals(q, Tensors.toFloats(other.load("model.layers.0.self_attn.q_proj.weight"))));
            assertTrue(!java.util.Arrays.equals(q, Tensors.toFloats(a.load("model.layers.1.self_attn.q_proj.weight"))));
            double ss = 0;
            for (float x : q) ss += x * x;
            assertEquals(0.02, Math.sqrt(ss / q.length), 0.003);
            for (float x : Tensors.toFloats(a.load("model.norm.weight"))) assertEquals(1f, x);
            for (float x : Tensors.toFloats(a.load("model.layers.0.self_attn.k_proj.bias"))) assertEquals(0f, x);
            try (LlamaModel m = ModelLoader.build(c, a, LoadOptions.cpu())) {
                for (float x : Tensors.toFloats(m.forward(Tensors.ofLongs(new long[] {1, 2, 3}, 1, 3)))) assertTrue(Float.isFinite(x));
            }
        }
    }
}
