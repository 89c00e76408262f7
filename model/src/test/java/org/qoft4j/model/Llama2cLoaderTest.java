package org.qoft4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.core.Tensors;

/** stories260K (llama2.c format) against the double-precision reference run with llama2.c's interleaved RoPE. */
class Llama2cLoaderTest {
    static final long[] PROMPT = {1, 403, 407, 261, 378, 9, 289, 34, 511, 0, 300};

    static Path stories() {
        Path p = SharedFixtures.stories260K();
        Assumptions.assumeTrue(Files.exists(p), "needs ../shared/models/stories260K.bin");
        return p;
    }

    /** Reads the .bin with no project code: weights keep llama2.c's row order (no q/k permutation). */
    static ReferenceLlama rawReference(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int dim = b.getInt(), hid = b.getInt(), layers = b.getInt(), heads = b.getInt(), kv = b.getInt(), vocab = b.getInt(), seq = b.getInt();
        boolean shared = vocab > 0;
        vocab = Math.abs(vocab);
        int hd = dim / heads;
        Map<String, double[]> w = new HashMap<>();
        w.put("model.embed_tokens.weight", floats(b, vocab * dim));
        String[][] perLayer = {{"input_layernorm.weight", "" + dim}, {"self_attn.q_proj.weight", "" + dim * dim},
                {"self_attn.k_proj.weight", "" + dim * kv * hd}, {"self_attn.v_proj.weight", "" + dim * kv * hd},
                {"self_attn.o_proj.weight", "" + dim * dim}, {"post_attention_layernorm.weight", "" + dim},
                {"mlp.gate_proj.weight", "" + dim * hid}, {"mlp.down_proj.weight", "" + dim * hid}, {"mlp.up_proj.weight", "" + dim * hid}};
        for (String[] t : perLayer)
            for (int l = 0; l < layers; l++) w.put("model.layers." + l + "." + t[0], floats(b, Integer.parseInt(t[1])));
        w.put("model.norm.weight", floats(b, dim));
        b.position(b.position() + 4 * seq * hd);
        if (!shared) w.put("lm_head.weight", floats(b, vocab * dim));
        assertEquals(b.limit(), b.position(), "the test's own reading must consume the whole file");
        return new ReferenceLlama(dim, hid, layers, heads, kv, hd, vocab, 1e-5, ReferenceLlama.plainInvFreq(hd, 10000), false, false, false,
                false, shared, true, w);
    }

    private static double[] floats(ByteBuffer b, int n) {
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = b.getFloat();
        return d;
    }

    @Test
    void headerMapsToConfig() {
        LlamaConfig c = Llama2cLoader.open(stories()).config();
        assertEquals(64, c.hiddenSize());
        assertEquals(172, c.intermediateSize());
        assertEquals(5, c.numLayers());
        assertEquals(8, c.numHeads());
        assertEquals(4, c.numKvHeads());
        assertEquals(512, c.vocabSize());
        assertEquals(512, c.maxPositionEmbeddings());
        assertTrue(c.tieWordEmbeddings());
    }

    @Test
    void logitsMatchLlama2cSemanticsInDoublePrecision() throws IOException {
        Path file = stories();
        double[][] want = rawReference(file).forward(PROMPT);
        double scale = 0;
        for (double[] row : want) for (double x : row) scale = Math.max(scale, Math.abs(x));
        // fp64 compute: agreement to rounding; fp32 compute: within fp32 rounding of logits as large as |13|
        double fp64 = maxDiff(file, LoadOptions.cpu().withDtype(ScalarType.Double), want);
        assertTrue(fp64 < 1e-9, "fp64 max diff " + fp64);
        double fp32 = maxDiff(file, LoadOptions.cpu(), want);
        assertTrue(fp32 < 1e-5 * Math.max(1, scale), "max |logit - llama2.c reference| = " + fp32 + " (max |logit| " + scale + ")");
    }

    private static double maxDiff(Path file, LoadOptions o, double[][] want) {
        try (PointerScope scope = new PointerScope(); LlamaModel m = Llama2cLoader.load(file, o)) {
            double[] got = Tensors.toDoubles(m.forward(Tensors.ofLongs(PROMPT, 1, PROMPT.length)));
            double worst = 0;
            for (int t = 0; t < PROMPT.length; t++)
                for (int v = 0; v < 512; v++) worst = Math.max(worst, Math.abs(got[t * 512 + v] - want[t][v])); // doubles: fp64 runs need them
            return worst;
        }
    }

    @Test
    void withoutThePermutationRopeWouldDisagree() throws IOException {
        // guards the test above: the raw (unpermuted) weights under Hugging Face's RoPE give different logits
        Path file = stories();
        ReferenceLlama interleaved = rawReference(file);
        ReferenceLlama wrong = new ReferenceLlama(interleaved.dim, interleaved.hidden, interleaved.layers, interleaved.heads, interleaved.kvHeads,
                interleaved.headDim, interleaved.vocab, interleaved.eps, interleaved.invFreq, false, false, false, false, true, false, interleaved.w);
        double[][] a = interleaved.forward(PROMPT), b = wrong.forward(PROMPT);
        double diff = 0;
        for (int t = 0; t < a.length; t++) for (int v = 0; v < 512; v++) diff = Math.max(diff, Math.abs(a[t][v] - b[t][v]));
        assertTrue(diff > 1e-3, "RoPE layout must matter for this fixture, diff " + diff);
    }

    @Test
    void greedyGenerationFromBosIsDeterministic() {
        try (PointerScope scope = new PointerScope(); LlamaModel m = Llama2cLoader.load(stories(), LoadOptions.cpu())) {
            GenerationConfig g = GenerationConfig.greedy(40, Set.of());
            long[] first = Generator.generate(m, new long[] {1}, g).tokens();
            long[] second = Generator.generate(m, new long[] {1}, g).tokens();
            assertEquals(40, first.length);
            assertArrayEquals(first, second);
            // the cached decode must pick what a full forward over the sequence picks at every step
            long[] seq = new long[41];
            seq[0] = 1;
            System.arraycopy(first, 0, seq, 1, 40);
            float[] logits = Tensors.toFloats(m.forward(Tensors.ofLongs(seq, 1, 41)));
            for (int t = 0; t < 40; t++)
                assertEquals(first[t], Sampler.argmax(java.util.Arrays.copyOfRange(logits, t * 512, (t + 1) * 512)), "step " + t);
        }
    }

    @Test
    void truncatedOrCorruptFilesAreClearErrors(@TempDir Path dir) throws IOException {
        byte[] all = Files.readAllBytes(stories());
        Path cut = dir.resolve("cut.bin");
        Files.write(cut, java.util.Arrays.copyOf(all, all.length - 4));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Llama2cLoader.open(cut));
        assertTrue(e.getMessage().contains("cut.bin") && e.getMessage().contains("does not match"), e.getMessage());

        Path tiny = dir.resolve("tiny.bin");
        Files.write(tiny, new byte[10]);
        e = assertThrows(ModelFormatException.class, () -> Llama2cLoader.open(tiny));
        assertTrue(e.getMessage().contains("too short"), e.getMessage());

        byte[] bad = all.clone();
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(12, 3); // n_heads 3 does not divide dim 64
        Path badHeads = dir.resolve("heads.bin");
        Files.write(badHeads, bad);
        e = assertThrows(ModelFormatException.class, () -> Llama2cLoader.open(badHeads));
        assertTrue(e.getMessage().contains("n_heads=3"), e.getMessage());
    }
}
