package org.qoft4j.cli;

import org.qoft4j.cli.charts.LossCurve;
import org.qoft4j.model.AdapterSet;
import org.qoft4j.quant.BaseQuant;
import org.qoft4j.trainer.Checkpointer;
import org.qoft4j.trainer.MetricsLog;
import org.qoft4j.trainer.TinyLlama;
import org.qoft4j.trainer.TrainConfig;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.adapters.peft.PeftAdapter;
import org.qoft4j.adapters.peft.PeftAdapterIO;
import org.qoft4j.core.Tensors;
import org.qoft4j.cli.Qoft4jCommand;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;

/** {@code ./qoft4j finetune} end to end on a tiny model directory, and {@code ./qoft4j merge} of what it trained. */
class FinetuneCliTest {
    @TempDir
    static Path dir;
    static Path model, data, out;
    static Run trained;

    record Run(int code, String out, String err) {}

    static Run cli(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        PrintStream oldErr = System.err;
        try {
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            var cl = Qoft4jCommand.commandLine();
            cl.setOut(new PrintWriter(o, true, StandardCharsets.UTF_8));
            cl.setErr(new PrintWriter(System.err, true));
            int code = cl.execute(args);
            return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(oldErr);
        }
    }

    @BeforeAll
    static void finetune() throws IOException {
        model = TinyLlama.writeDir(dir.resolve("model"), 5);
        data = TinyLlama.writeJsonl(dir.resolve("train.jsonl"), TinyLlama.countUp(24, 16, 3));
        out = dir.resolve("run");
        Path yaml = dir.resolve("run.yaml");
        Files.writeString(yaml, "adapter: oft\nquant: nf4\nsteps: 50\nbatch-size: 2\nseq-len: 64\nlr: 0.01\noft-block-size: 16\n"
                + "eval-fraction: 0.25\neval-every: 2\nprogress: false\nthreads: 1\n");
        // the flag overrides the YAML's steps; the key=value arguments override both
        trained = cli("finetune", "--config", yaml.toString(), "--model", model.toString(), "--data", data.toString(), "--out", out.toString(),
                "--steps", "9", "--save-every", "3", "steps=4", "warmup=1");
    }

    @Test
    void writesAdapterCheckpointsMetricsAndPlot() throws IOException {
        assertEquals(0, trained.code(), trained.err());
        assertTrue(trained.out().contains("OFT on nf4 base: 4 steps") && trained.out().contains("trainable parameters"), trained.out());
        assertTrue(Files.isRegularFile(out.resolve("adapter/adapter_config.json")));
        assertTrue(Files.isRegularFile(out.resolve("adapter/adapter_model.safetensors")));
        assertEquals(List.of(out.resolve("checkpoints/step-000003"), out.resolve("checkpoints/step-000004")), Checkpointer.list(out.resolve("checkpoints")));
        List<JsonNode> lines = MetricsLog.read(out.resolve(MetricsLog.FILE));
        assertEquals(4, lines.stream().filter(n -> n.path("kind").asText().equals("train")).count());
        assertEquals(List.of(2, 4), lines.stream().filter(n -> n.path("kind").asText().equals("eval")).map(n -> n.path("step").asInt()).toList());
        JsonNode first = lines.get(0);
        for (String key : List.of("step", "loss", "lr", "grad_norm", "tokens", "tokens_per_s", "peak_rss_bytes"))
            assertTrue(first.has(key), "metrics line lacks " + key + ": " + first);
        // the OFT diagnostics are read every log-every (10) steps, on checkpoint steps and at the last: here steps 3 and 4
        List<Integer> withOrthogonality = lines.stream().filter(n -> n.path("kind").asText().equals("train") && n.has("max_orthogonality_error"))
                .map(n -> n.path("step").asInt()).toList();
        assertEquals(List.of(3, 4), withOrthogonality);
        byte[] png = Files.readAllBytes(out.resolve(LossCurve.FILE));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
        TrainConfig saved = Checkpointer.config(out.resolve("checkpoints/step-000004"));
        assertEquals(4, saved.steps());
        assertEquals(1, saved.warmup());
        assertEquals(2, saved.batchSize());
    }

    /** The merged model reloads without adapters and gives the adapter-on logits (fp32, 1e-4), merged into either base. */
    @ParameterizedTest(name = "--quant {0}")
    @ValueSource(strings = {"nf4", "none"})
    void mergeRoundTrip(String quant) {
        assertEquals(0, trained.code(), trained.err());
        Path merged = dir.resolve("merged-" + quant);
        Run r = cli("merge", "--model", model.toString(), "--adapter", out.resolve("adapter").toString(), "--out", merged.toString(), "--quant", quant);
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(merged.resolve("config.json")) && Files.isRegularFile(merged.resolve("model.safetensors")));

        LoadOptions base = LoadOptions.cpu().withQuant(BaseQuant.parse(quant).spec());
        try (PointerScope scope = new PointerScope(); LlamaModel withAdapter = ModelLoader.load(model, base);
             LlamaModel plain = ModelLoader.load(merged, LoadOptions.cpu())) {
            Tensor ids = Tensors.ofLongs(new long[] {1, 12, 13, 14, 15, 16, 17, 18, 1, 25, 10, 11}, 2, 6);
            float[] before = Tensors.toFloats(withAdapter.forward(ids));
            try (AdapterSet a = AdapterSet.open(withAdapter, out.resolve("adapter"))) {
                float[] adapted = Tensors.toFloats(withAdapter.forward(ids));
                float[] mergedLogits = Tensors.toFloats(plain.forward(ids));
                assertTrue(maxDiff(before, adapted) > 1e-3, "the trained adapter changes the logits (" + maxDiff(before, adapted) + ")");
                double d = maxDiff(adapted, mergedLogits);
                assertTrue(d <= 1e-4, "max |merged - adapter-on| = " + d);
            }
        }
    }

    @Test
    void mergeRefusesANonEmptyOutput() throws IOException {
        Path target = dir.resolve("occupied");
        Files.createDirectories(target);
        Files.writeString(target.resolve("keep.txt"), "x");
        Run r = cli("merge", "--model", model.toString(), "--adapter", out.resolve("adapter").toString(), "--out", target.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("not empty"), r.err());
        assertTrue(Files.exists(target.resolve("keep.txt")));
    }

    @Test
    void badSettingsAreClearErrors() {
        Run r = cli("finetune", "--model", model.toString(), "--data", data.toString(), "--out", dir.resolve("bad").toString(), "steps=abc");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("option 'steps' must be an integer, got \"abc\""), r.err());

        r = cli("finetune", "--model", model.toString(), "--data", data.toString(), "learning-rate=0.1");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown option 'learning-rate'") && r.err().contains("lr"), r.err());

        r = cli("finetune", "--model", model.toString(), "--data", data.toString(), "--lr", "-1", "--adapter", "dora", "--dtype", "fp8");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("lr must be a positive number, got -1.0") && r.err().contains("adapter must be oft, lora or oft-v1, got 'dora'")
                && r.err().contains("dtype must be auto, fp32, bf16") && r.err().contains("got 'fp8'"), r.err());
        assertFalse(Files.exists(dir.resolve("bad")));
    }

    @Test
    void resumeTakesTheCheckpointsSettings() {
        assertEquals(0, trained.code(), trained.err());
        Run r = cli("finetune", "--resume", out.toString(), "steps=6", "--out", dir.resolve("longer").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("OFT on nf4 base: 6 steps"), r.out());
        List<JsonNode> lines = MetricsLog.read(dir.resolve("longer").resolve(MetricsLog.FILE));
        assertEquals(List.of(5, 6), lines.stream().filter(n -> n.path("kind").asText().equals("train")).map(n -> n.path("step").asInt()).toList());
    }

    static double maxDiff(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
        return d;
    }
}
