package org.qoft4j.cli;

import org.qoft4j.model.AdapterSet;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.OftLayer;
import org.qoft4j.adapters.peft.PeftAdapterIO;
import org.qoft4j.core.Tensors;
import org.qoft4j.data.Sample;
import org.qoft4j.data.SampleEncoder;
import org.qoft4j.model.GenerationConfig;
import org.qoft4j.model.Generator;
import org.qoft4j.model.HfModelWriter;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.model.TensorSource;
import org.qoft4j.model.TinyModels;
import org.qoft4j.data.tokenizer.TestTokenizers;
import org.qoft4j.data.tokenizer.TextTokenizer;

/** {@code eval} and {@code generate} on a tiny random model with a Qwen-style test tokenizer. */
class CliTest {
    @TempDir
    static Path dir;
    static Path model;

    @BeforeAll
    static void makeModel() throws IOException {
        ObjectNode json = TinyModels.config("qwen2");
        json.put("vocab_size", 300);
        json.put("eos_token_id", 261);
        LlamaConfig c = TinyModels.parse(json);
        Map<String, Tensor> w = TinyModels.randomWeights(c, 42);
        model = dir.resolve("model");
        try (PointerScope scope = new PointerScope()) {
            HfModelWriter.write(c, TensorSource.of("memory", w), model, null, 0);
        } finally {
            TinyModels.release(w);
        }
        Path tok = dir.resolve("tok");
        TestTokenizers.qwen(tok);
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) Files.copy(tok.resolve(f), model.resolve(f));
    }

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        PrintStream oldOut = System.out, oldErr = System.err;
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            var cl = Qoft4jCommand.commandLine();
            cl.setOut(new PrintWriter(System.out, true));
            cl.setErr(new PrintWriter(System.err, true));
            code = cl.execute(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Mean NLL of the scored tokens, one sample at a time through the full logits (no packing, no chunking). */
    static double directLoss(LlamaModel m, List<Sample> samples) {
        double sum = 0;
        long n = 0;
        for (Sample s : samples) {
            try (PointerScope scope = new PointerScope()) {
                float[] logits = Tensors.toFloats(m.forward(Tensors.ofLongs(s.inputIds(), 1, s.length())));
                int v = m.config().vocabSize();
                for (int t = 1; t < s.length(); t++) {
                    if (s.labels()[t] == Sample.IGNORE) continue;
                    double max = Double.NEGATIVE_INFINITY, z = 0;
                    for (int j = 0; j < v; j++) max = Math.max(max, logits[(t - 1) * v + j]);
                    for (int j = 0; j < v; j++) z += Math.exp(logits[(t - 1) * v + j] - max);
                    sum += max + Math.log(z) - logits[(t - 1) * v + (int) s.labels()[t]];
                    n++;
                }
            }
        }
        return sum / n;
    }

    @Test
    void evalPrintsLossPerplexityAndTokensMatchingADirectComputation() throws IOException {
        Path data = dir.resolve("eval.jsonl");
        Files.writeString(data, String.join("\n",
                "{\"text\": \"the user is here\"}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Q?\"}, {\"role\": \"assistant\", \"content\": \"use it\"}]}",
                "{\"instruction\": \"Say\", \"input\": \"x\", \"output\": \"ok us\"}",
                "{\"input_ids\": [1, 2, 3, 4, 5], \"labels\": [-100, -100, 3, 4, 5]}", ""));
        Run r = run("eval", "--model", model.toString(), "--data", data.toString(), "--seq-len", "128", "--batch-size", "2");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out().trim());
        List<Sample> samples;
        double want;
        try (TextTokenizer tok = TextTokenizer.load(model); LlamaModel m = ModelLoader.load(model, LoadOptions.cpu())) {
            SampleEncoder enc = new SampleEncoder(tok, false, 300);
            ObjectMapper om = new ObjectMapper();
            samples = Files.readAllLines(data).stream().filter(l -> !l.isBlank()).map(l -> {
                try {
                    return enc.encode(om.readTree(l));
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }).toList();
            want = directLoss(m, samples);
        }
        long tokens = samples.stream().mapToLong(Sample::scoredTokens).sum();
        assertEquals(tokens, j.get("tokens").asLong());
        assertEquals(want, j.get("loss").asDouble(), 1e-5, r.out());
        assertEquals(Math.exp(j.get("loss").asDouble()), j.get("perplexity").asDouble(), 1e-9);
        assertEquals(4, j.get("samples").asInt());
        assertEquals(0, j.get("truncated_samples").asInt());

        Run cut = run("eval", "--model", model.toString(), "--data", data.toString(), "--seq-len", "16");
        JsonNode jc = new ObjectMapper().readTree(cut.out().trim());
        assertTrue(jc.get("truncated_samples").asInt() > 0 && jc.get("tokens").asLong() < tokens, cut.out());
        assertTrue(cut.err().contains("truncated"), cut.err());

        Run padded = run("eval", "--model", model.toString(), "--data", data.toString(), "--no-packing", "--max-samples", "3");
        assertEquals(0, padded.code(), padded.err());
        assertEquals(3, new ObjectMapper().readTree(padded.out().trim()).get("samples").asInt());
    }

    @Test
    void evalWithNf4GivesASimilarLoss() throws IOException {
        Path data = dir.resolve("nf4.jsonl");
        Files.writeString(data, "{\"text\": \"the user is here and there\"}\n{\"text\": \"use the us\"}\n");
        JsonNode full = new ObjectMapper().readTree(run("eval", "--model", model.toString(), "--data", data.toString()).out().trim());
        Run r = run("eval", "--model", model.toString(), "--data", data.toString(), "--quant", "nf4");
        assertEquals(0, r.code(), r.err());
        JsonNode q = new ObjectMapper().readTree(r.out().trim());
        assertEquals("nf4", q.get("quant").asText());
        assertTrue(Math.abs(full.get("loss").asDouble() - q.get("loss").asDouble()) < 0.1, full + " vs " + q);
        assertTrue(full.get("loss").asDouble() != q.get("loss").asDouble(), "nf4 must actually change the weights");
    }

    @Test
    void generateIsGreedyDeterministicAndMatchesTheGenerator() {
        Run a = run("generate", "--model", model.toString(), "--prompt", "the user", "--max-new-tokens", "12");
        Run b = run("generate", "--model", model.toString(), "--prompt", "the user", "--max-new-tokens", "12");
        assertEquals(0, a.code(), a.err());
        assertEquals(a.out(), b.out());
        assertTrue(a.err().contains("new tokens"), a.err());
        try (TextTokenizer tok = TextTokenizer.load(model); LlamaModel m = ModelLoader.load(model, LoadOptions.cpu())) {
            Generator.Result r = Generator.generate(m, tok.encode("the user"), GenerationConfig.greedy(12, Set.of(261L)));
            long[] out = r.finishReason() == Generator.FinishReason.STOP_TOKEN ? java.util.Arrays.copyOf(r.tokens(), r.tokens().length - 1) : r.tokens();
            assertEquals(tok.decode(out, true) + System.lineSeparator(), a.out());
        }
        Run s1 = run("generate", "--model", model.toString(), "--prompt", "x", "--chat", "--temperature", "1.5", "--top-p", "0.9", "--seed", "3");
        Run s2 = run("generate", "--model", model.toString(), "--prompt", "x", "--chat", "--temperature", "1.5", "--top-p", "0.9", "--seed", "3");
        assertEquals(0, s1.code(), s1.err());
        assertEquals(s1.out(), s2.out(), "same seed, same sample");
    }

    @Test
    void evalAndGenerateApplyAPeftAdapter() throws IOException {
        Path data = dir.resolve("adapter.jsonl");
        Files.writeString(data, "{\"text\": \"the user is here and there\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"Q?\"}, "
                + "{\"role\": \"assistant\", \"content\": \"use it\"}]}\n");
        Path adapterDir = dir.resolve("oft-adapter");
        double want, plain;
        try (TextTokenizer tok = TextTokenizer.load(model); LlamaModel m = ModelLoader.load(model, LoadOptions.cpu())) {
            SampleEncoder enc = new SampleEncoder(tok, false, 300);
            ObjectMapper om = new ObjectMapper();
            List<Sample> samples = new java.util.ArrayList<>();
            for (String l : Files.readAllLines(data)) samples.add(enc.encode(om.readTree(l)));
            plain = directLoss(m, samples);
            // non-trivial rotations (PEFT's init_weights=False draws them from N(0, 0.1))
            OftConfig cfg = OftConfig.defaults().withBlockSize(8).withInitWeights(false);
            try (AdapterSet adapters = AdapterSet.inject(m, cfg, 0)) {
                want = directLoss(m, samples);
                adapters.save(adapterDir, model.toString());
            }
        }
        assertTrue(Math.abs(want - plain) > 1e-3, "the adapter must change the model: " + plain + " vs " + want);
        Run r = run("eval", "--model", model.toString(), "--adapter", adapterDir.toString(), "--data", data.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out().trim());
        assertEquals(want, j.get("loss").asDouble(), 1e-5);
        assertEquals(adapterDir.toString(), j.get("adapter").asText());
        Run g = run("generate", "--model", model.toString(), "--adapter", adapterDir.toString(), "--prompt", "the", "--max-new-tokens", "5");
        assertEquals(0, g.code(), g.err());
        Run missing = run("eval", "--model", model.toString(), "--adapter", dir.resolve("none").toString(), "--data", data.toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("adapter_config.json"), missing.err());
    }

    @Test
    void badInputIsOneClearLine() throws IOException {
        Run r = run("eval", "--model", model.toString(), "--data", dir.resolve("missing.jsonl").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("error: ") && r.err().contains("missing.jsonl: no such file"), r.err());
        Path bad = dir.resolve("bad.jsonl");
        Files.writeString(bad, "{\"text\": \"ok\"}\n{\"txt\": 1}\n");
        r = run("eval", "--model", model.toString(), "--data", bad.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("bad.jsonl:2: expected a JSON object with \"text\""), r.err());
        r = run("eval", "--model", model.toString(), "--data", bad.toString(), "--skip-malformed");
        assertEquals(0, r.code(), r.err());
        assertEquals(1, new ObjectMapper().readTree(r.out().trim()).get("skipped_lines").asInt());
        r = run("eval", "--model", dir.resolve("nope").toString(), "--data", bad.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("not a model directory"), r.err());
        r = run("generate", "--model", model.toString(), "--prompt", "x", "--quant", "nf5");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("error: quant must be nf4, fp4, int4 or none, got 'nf5'") && r.err().lines().count() == 1, r.err());
    }
}
