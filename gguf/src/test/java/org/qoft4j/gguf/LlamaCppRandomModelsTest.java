package org.qoft4j.gguf;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.qoft4j.model.LlamaConfig;

/**
 * Random-weight models shaped like the families export-gguf maps, through llama.cpp: the log-softmax of llama.cpp's
 * logits after every token of a 48-token sequence must equal qoft4j's within 1e-2 nats mean absolute difference (f16
 * export). This is what catches a wrong Q/K permutation, rope key, rope_freqs tensor, head size, q/k norm or bias:
 * each of those moves these logits by nats, not hundredths. Llama 3-shaped (GQA, llama3 rope_scaling acting within
 * the sequence), Qwen3-shaped (q/k norm, head_dim != hidden / heads), Qwen2-shaped (q/k/v biases, tied embeddings).
 * The q4_k_m export of the Llama 3-shaped model (every width a multiple of 256, so q4_K and q6_K blocks are used) is
 * compared with qoft4j running the file's own weights as our decoders read them: equal up to llama.cpp's 8-bit
 * quantization of activations, so a block-layout error would show.
 */
class LlamaCppRandomModelsTest {
    static final double TOLERANCE = 1e-2;

    @TempDir
    Path tmp;

    @BeforeEach // per test, so that each skip is reported with its reason
    void peer() {
        LlamaCppPeer.assumeAvailable();
    }

    static long[] tokens(int n, long seed) {
        Random r = new Random(seed);
        long[] t = new long[n];
        t[0] = 1; // BOS
        for (int i = 1; i < n; i++) t[i] = 3 + r.nextInt(256);
        return t;
    }

    static double[][] logSoftmax(JsonNode logits) {
        double[][] out = new double[logits.size()][];
        for (int i = 0; i < out.length; i++) {
            double[] l = LlamaCppPeer.doubles(logits.get(i));
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (double v : l) max = Math.max(max, v);
            for (double v : l) sum += Math.exp(v - max);
            double lse = max + Math.log(sum);
            for (int j = 0; j < l.length; j++) l[j] -= lse;
            out[i] = l;
        }
        return out;
    }

    /** {mean |a - b|, max |a - b|, standard deviation of a} over all positions and tokens. */
    static double[] compare(double[][] a, double[][] b) {
        double sum = 0, max = 0, s1 = 0, s2 = 0;
        long n = 0;
        for (int i = 0; i < a.length; i++)
            for (int j = 0; j < a[i].length; j++) {
                double d = Math.abs(a[i][j] - b[i][j]);
                sum += d;
                max = Math.max(max, d);
                s1 += a[i][j];
                s2 += a[i][j] * a[i][j];
                n++;
            }
        double mean = s1 / n;
        return new double[] {sum / n, max, Math.sqrt(s2 / n - mean * mean)};
    }

    static LlamaConfig config(String family) {
        return switch (family) {
            case "llama3" -> RandomModels.llama3();
            case "qwen3" -> RandomModels.qwen3();
            case "qwen2" -> RandomModels.qwen2();
            default -> throw new IllegalArgumentException(family);
        };
    }

    /**
     * f16 (and bf16) with llama.cpp as users run it (tolerance 1e-2; bf16 5e-2); f32 with a float32 KV cache and no flash
     * attention (tolerance 1e-3).
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"llama3, f16", "qwen3, f16", "qwen2, f16", "llama3, f32", "qwen3, f32", "llama3, bf16"})
    void logitsEqualQoft4j(String family, String type) {
        LlamaConfig c = config(family);
        Path dir = RandomModels.write(c, tmp.resolve(family), 11);
        Path gguf = tmp.resolve(family + ".gguf");
        GgufExport.run(GgufExport.Options.of(dir, gguf, GgufFileType.parse(type)), line -> {});
        // bf16 keeps 8 significant bits (f16: 11), and llama.cpp rounds the activations to bf16 for its bf16 products too
        double tolerance = type.equals("f32") ? TOLERANCE / 10 : type.equals("bf16") ? 5 * TOLERANCE : TOLERANCE;
        long[] t = tokens(48, 5);
        double[][] ours;
        try (QoftSide q = QoftSide.load(dir, null)) {
            ours = q.logSoftmax(t);
        }
        LlamaCppPeer peer = LlamaCppPeer.on(gguf, 128).logits(t);
        if (type.equals("f32")) peer.f32Attention();
        double[][] theirs = logSoftmax(peer.run().get(0).get("logits"));
        double[] d = compare(ours, theirs);
        System.out.printf(Locale.ROOT, "random %s, %s: log-softmax mean |diff| %.2e, max %.2e (spread of log-probs: std %.2f nats)%n", family, type, d[0], d[1],
                d[2]);
        assertTrue(d[2] > 1.0, "the random model's log-probs should spread over nats, got std " + d[2]);
        assertTrue(d[0] <= tolerance, family + " " + type + ": mean |diff| " + d[0] + " > " + tolerance);
    }

    /** Without rope_scaling, qoft4j's logits move far from llama.cpp's: the comparison above does see the rope_freqs tensor. */
    @Test
    void ropeScalingMattersInTheComparison() throws IOException {
        LlamaConfig c = RandomModels.llama3();
        Path dir = RandomModels.write(c, tmp.resolve("llama3"), 11);
        Path gguf = tmp.resolve("llama3.gguf");
        GgufExport.run(GgufExport.Options.of(dir, gguf, GgufFileType.F16), line -> {});
        Path unscaled = Files.createDirectories(tmp.resolve("unscaled"));
        for (String f : List.of("model.safetensors", "tokenizer.json", "tokenizer_config.json")) Files.copy(dir.resolve(f), unscaled.resolve(f));
        ObjectMapper json = new ObjectMapper();
        ObjectNode cfg = (ObjectNode) json.readTree(dir.resolve("config.json").toFile());
        cfg.remove("rope_scaling");
        json.writeValue(unscaled.resolve("config.json").toFile(), cfg);
        long[] t = tokens(48, 5);
        double[][] withoutScaling;
        try (QoftSide q = QoftSide.load(unscaled, null)) {
            withoutScaling = q.logSoftmax(t);
        }
        double[][] theirs = logSoftmax(LlamaCppPeer.on(gguf, 128).logits(t).run().get(0).get("logits"));
        double[] d = compare(withoutScaling, theirs);
        System.out.printf(Locale.ROOT, "random llama3 without rope_scaling vs llama.cpp: mean |diff| %.2e%n", d[0]);
        assertTrue(d[0] > 10 * TOLERANCE, "rope_scaling should change the logits by far more than the tolerance, got " + d[0]);
    }

    @Test
    void q4KmBlocksDecodeInLlamaCppAsInQoft4j() {
        LlamaConfig c = RandomModels.llama3();
        Path dir = RandomModels.write(c, tmp.resolve("llama3"), 11);
        Path gguf = tmp.resolve("llama3-q4_k_m.gguf");
        GgufExport.Report r = GgufExport.run(GgufExport.Options.of(dir, gguf, GgufFileType.Q4_K_M), line -> {});
        assertTrue(r.tensorsByType().getOrDefault(GgmlType.Q4_K, 0) > 0 && r.tensorsByType().getOrDefault(GgmlType.Q6_K, 0) > 0, r.tensorsByType().toString());
        assertTrue(r.fallbacks().isEmpty(), r.fallbacks().toString());
        long[] t = tokens(48, 5);
        double[][] fileWeights, original;
        try (QoftSide q = QoftSide.of(GgufBack.load(gguf, c))) {
            fileWeights = q.logSoftmax(t);
        }
        try (QoftSide q = QoftSide.load(dir, null)) {
            original = q.logSoftmax(t);
        }
        double[][] theirs = logSoftmax(LlamaCppPeer.on(gguf, 128).logits(t).run().get(0).get("logits"));
        double[] same = compare(fileWeights, theirs), vsOriginal = compare(original, theirs);
        System.out.printf(Locale.ROOT, "random llama3, q4_k_m in llama.cpp: mean |diff| %.2e against qoft4j on the file's weights, %.2e against the "
                + "full-precision model (the quantization's cost)%n", same[0], vsOriginal[0]);
        // llama.cpp multiplies k-quant weights with activations quantized to 8 bits (measured: 0.04 nats here); a wrong block
        // layout decodes to different weights altogether and moves the logits by nats
        assertTrue(same[0] <= 10 * TOLERANCE, "q4_k_m: mean |diff| " + same[0] + " against qoft4j on the same weights");
        assertTrue(same[0] < vsOriginal[0] / 4, "llama.cpp should be far closer to the file's weights than to the unquantized model");
    }
}
