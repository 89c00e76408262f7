package org.qoft4j.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.qoft4j.trainer.eval.ExactMatch;
import org.qoft4j.data.TestData;
import org.qoft4j.data.tokenizer.ChatMessage;
import org.qoft4j.data.tokenizer.TextTokenizer;
import org.qoft4j.trainer.Finetune;
import org.qoft4j.trainer.TrainConfig;
import org.qoft4j.trainer.TrainConfigIO;

/**
 * The finetuned demo model through llama.cpp itself. A short QOFT run (30 steps on NF4, the demo's learning rate)
 * teaches the test-data model the "shift" skill; the adapter is exported with {@code export-gguf} (merged into the
 * original fp32 weights), and llama.cpp (node-llama-cpp) must
 * <ul>
 *   <li>tokenize the rendered chat prompts exactly as qoft4j does;</li>
 *   <li>give the same greedy answers as {@code generate} (fp32 base + adapter) to all 50 shift and 50 copy eval
 *       prompts, exported as f32 and as f16;</li>
 *   <li>give next-token log-probabilities over the whole eval conversations within 1e-3 (f32) / 1e-2 (f16) nats mean
 *       absolute difference;</li>
 *   <li>with q8_0, q4_0 and q4_k_m exports: a perplexity on the eval set within 1 %, 5 % and 3 % of the f16 export's.</li>
 * </ul>
 * Skips when node or node-llama-cpp is missing ({@link LlamaCppPeer#assumeAvailable()}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LlamaCppDemoTest {
    Path tmp;

    Path adapter;
    TextTokenizer tok;
    QoftSide qoft;
    List<long[]> prompts = new ArrayList<>();   // rendered chat prompts with the generation prompt
    List<String> answers = new ArrayList<>();
    List<long[]> conversations = new ArrayList<>(); // full eval conversations (prompt + answer + eos)
    List<long[]> qoftAnswers = new ArrayList<>();
    List<double[]> qoftLogprobs = new ArrayList<>();
    Set<Long> stop;

    @BeforeAll
    void trainOnce(@TempDir Path dir) {
        tmp = dir;
        if (!LlamaCppPeer.available() || !TestData.available()) return; // each test then skips, saying why

        TrainConfig c = TrainConfigIO.resolve(TrainConfig.defaults(), List.of(TrainConfigIO.fromOverrides(List.of(
                "model=" + TestData.model(), "data=" + TestData.shiftTrain(), "out=" + tmp.resolve("run"), "adapter=oft", "quant=nf4",
                "steps=30", "batch-size=8", "seq-len=128", "lr=4e-3", "warmup=5", "progress=false", "threads=0", "eval-every=0"))));
        long t0 = System.nanoTime();
        try (Finetune job = Finetune.open(c)) {
            job.train();
        }
        System.out.printf(Locale.ROOT, "demo model: 30 QOFT steps in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        t0 = System.nanoTime();
        adapter = tmp.resolve("run/adapter");
        tok = TextTokenizer.load(TestData.model());
        qoft = QoftSide.load(TestData.model(), adapter);
        int threads = org.bytedeco.pytorch.global.torch.get_num_threads();
        org.bytedeco.pytorch.global.torch.set_num_threads(1); // one-token decode steps of a 0.9M model: threads only add waiting
        stop = new LinkedHashSet<>(tok.stopTokenIds(qoft.model.config().eosTokenIds(), TestData.model()));
        for (Path f : List.of(TestData.shiftEval(), TestData.copyEval()))
            for (ExactMatch.Example ex : ExactMatch.read(f, 50)) {
                long[] p = tok.encodeChat(ex.prompt(), true);
                prompts.add(p);
                answers.add(ex.answer());
                List<ChatMessage> full = new ArrayList<>(ex.prompt());
                full.add(ChatMessage.assistant(ex.answer()));
                long[] conv = tok.encodeChat(full, false);
                conversations.add(conv);
                qoftAnswers.add(qoft.greedy(p, 16, stop));
                qoftLogprobs.add(qoft.nextTokenLogprobs(conv));
            }
        org.bytedeco.pytorch.global.torch.set_num_threads(threads);
        assertEquals(100, prompts.size());
        for (int i = 0; i < prompts.size(); i++)
            assertArrayEquals(prompts.get(i), java.util.Arrays.copyOf(conversations.get(i), prompts.get(i).length), "the prompt starts the conversation");
        System.out.printf(Locale.ROOT, "demo model: qoft4j answers and log-probs in %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }

    @BeforeEach
    void peer() {
        LlamaCppPeer.assumeAvailable();
        Assumptions.assumeTrue(TestData.available(), "test-data/tiny-llama not found");
    }

    @AfterAll
    void close() {
        if (qoft != null) qoft.close();
        if (tok != null) tok.close();
    }

    private Path export(GgufFileType type) {
        Path out = tmp.resolve("demo-" + type.cliName() + ".gguf");
        long t0 = System.nanoTime();
        if (!out.toFile().exists()) GgufExport.run(GgufExport.Options.of(TestData.model(), out, type).withAdapter(adapter), line -> {});
        System.out.printf(Locale.ROOT, "demo model: %s export in %.1f s%n", type.cliName(), (System.nanoTime() - t0) / 1e9);
        return out;
    }

    @Test
    void llamaCppTokenizesThePromptsAsQoft4jDoes() {
        LlamaCppPeer peer = LlamaCppPeer.on(export(GgufFileType.F32), 256);
        List<String> texts = new ArrayList<>();
        for (Path f : List.of(TestData.shiftEval(), TestData.copyEval()))
            for (ExactMatch.Example ex : ExactMatch.read(f, 50)) texts.add(tok.applyChatTemplate(ex.prompt(), true));
        texts.forEach(peer::tokenize);
        List<JsonNode> r = peer.run();
        for (int i = 0; i < texts.size(); i++)
            assertArrayEquals(prompts.get(i), LlamaCppPeer.longs(r.get(i).get("tokens")), "tokens of '" + texts.get(i) + "'");
    }

    /**
     * f32 runs llama.cpp with a float32 KV cache, so the comparison sees the export's precision rather than the cache's
     * (llama.cpp's default f16 cache alone accounts for ~5e-4 nats); f16 runs llama.cpp as users do.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"f32, 1e-3", "f16, 1e-2"})
    void llamaCppAnswersAsQoft4jGenerates(String type, double tolerance) {
        Path gguf = export(GgufFileType.parse(type));
        LlamaCppPeer peer = LlamaCppPeer.on(gguf, 256);
        if (type.equals("f32")) peer.f32Attention();
        long[] stops = stop.stream().mapToLong(Long::longValue).toArray();
        prompts.forEach(p -> peer.greedy(p, 16, stops));
        conversations.forEach(peer::logprobs);
        List<JsonNode> r = peer.run();
        int sameAnswers = 0, correct = 0;
        List<String> differing = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            long[] theirs = LlamaCppPeer.longs(r.get(i).get("tokens"));
            if (java.util.Arrays.equals(theirs, qoftAnswers.get(i))) sameAnswers++;
            else if (differing.size() < 5) differing.add(i + ": qoft4j '" + tok.decode(qoftAnswers.get(i), true) + "', llama.cpp '" + tok.decode(theirs, true) + "'");
            if (tok.decode(theirs, true).strip().equals(answers.get(i))) correct++;
        }
        List<double[]> theirLogprobs = new ArrayList<>();
        for (int i = 0; i < conversations.size(); i++) theirLogprobs.add(LlamaCppPeer.doubles(r.get(prompts.size() + i).get("logprobs")));
        double diff = QoftSide.meanAbsDiff(qoftLogprobs, theirLogprobs);
        System.out.printf(Locale.ROOT, "demo model, %s: llama.cpp's greedy answers equal qoft4j's on %d/100 prompts (%d/100 correct); "
                + "next-token log-prob mean |diff| %.2e nats over %d tokens%n", type, sameAnswers, correct, diff,
                theirLogprobs.stream().mapToInt(a -> a.length).sum());
        assertEquals(100, sameAnswers, type + ": greedy answers differ: " + differing);
        assertTrue(diff <= tolerance, type + ": log-prob mean |diff| " + diff + " > " + tolerance);
    }

    /**
     * Perplexity as {@code qoft4j eval} defines it on chat data: over the scored tokens, the assistant turns (answer and
     * EOS). The perplexity over every token after BOS (mostly the prompts' random letters) is printed too.
     */
    @Test
    void quantizedPerplexityStaysCloseToF16() {
        Map<GgufFileType, double[]> ppl = new EnumMap<>(GgufFileType.class); // {scored tokens, all tokens}
        for (GgufFileType t : List.of(GgufFileType.F16, GgufFileType.Q8_0, GgufFileType.Q4_0, GgufFileType.Q4_K_M)) {
            LlamaCppPeer peer = LlamaCppPeer.on(export(t), 256);
            conversations.forEach(peer::logprobs);
            List<JsonNode> r = peer.run();
            double scored = 0, all = 0;
            long nScored = 0, nAll = 0;
            for (int i = 0; i < r.size(); i++) {
                JsonNode lp = r.get(i).get("logprobs");
                int answerStart = prompts.get(i).length; // conversation = prompt (with the generation prompt) + answer + eos
                for (int j = 0; j < lp.size(); j++) {
                    all -= lp.get(j).asDouble();
                    nAll++;
                    if (j + 1 >= answerStart) {
                        scored -= lp.get(j).asDouble();
                        nScored++;
                    }
                }
            }
            ppl.put(t, new double[] {Math.exp(scored / nScored), Math.exp(all / nAll)});
        }
        double[] f16 = ppl.get(GgufFileType.F16);
        StringBuilder b = new StringBuilder("demo model perplexity in llama.cpp, eval set (assistant tokens) / all tokens after BOS:");
        ppl.forEach((t, p) -> b.append(String.format(Locale.ROOT, "%n  %-7s %.4f (%+.2f%%) / %.4f (%+.2f%%)", t.cliName(), p[0], 100 * (p[0] / f16[0] - 1),
                p[1], 100 * (p[1] / f16[1] - 1))));
        System.out.println(b);
        assertTrue(Math.abs(ppl.get(GgufFileType.Q8_0)[0] / f16[0] - 1) <= 0.01, b.toString());
        assertTrue(Math.abs(ppl.get(GgufFileType.Q4_0)[0] / f16[0] - 1) <= 0.05, b.toString());
        assertTrue(Math.abs(ppl.get(GgufFileType.Q4_K_M)[0] / f16[0] - 1) <= 0.03, b.toString());
    }
}
