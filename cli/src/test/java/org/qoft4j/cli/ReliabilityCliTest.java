package org.qoft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.model.AdapterSet;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.trainer.RunLock;
import org.qoft4j.trainer.TinyLlama;

/** Issue 14's command-line cases: exit code 2 and one clear line for each. */
class ReliabilityCliTest {
    static final Path TEST_MODEL = Path.of("..", "test-data", "tiny-llama").toAbsolutePath().normalize();
    static final Path TEST_EVAL = Path.of("..", "test-data", "data", "shift-eval.jsonl").toAbsolutePath().normalize();

    @TempDir
    static Path dir;
    static Path strayAdapter;

    record Run(int code, String out, String err) {}

    static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        PrintStream oldOut = System.out, oldErr = System.err;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            var cl = Qoft4jCommand.commandLine();
            cl.setOut(new PrintWriter(System.out, true));
            cl.setErr(new PrintWriter(System.err, true));
            int code = cl.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /** The error line a failed command printed (its only line starting with "error: "). */
    static String errorLine(Run r) {
        List<String> errors = r.err().lines().filter(l -> l.startsWith("error: ")).toList();
        assertEquals(1, errors.size(), "one error line in: " + r.err());
        return errors.get(0);
    }

    /** A PEFT OFT adapter for the test-data model whose config targets a module name the model does not have. */
    @BeforeAll
    static void adapterMatchingNoLayer() throws IOException {
        strayAdapter = dir.resolve("stray-adapter");
        try (PointerScope scope = new PointerScope(); LlamaModel m = ModelLoader.load(TEST_MODEL, LoadOptions.cpu());
             AdapterSet a = AdapterSet.inject(m, OftConfig.defaults(), 1)) {
            a.save(strayAdapter, TEST_MODEL.toString());
        }
        Path config = strayAdapter.resolve("adapter_config.json");
        ObjectNode json = (ObjectNode) new ObjectMapper().readTree(config.toFile());
        json.putArray("target_modules").add("qkv_fused");
        Files.writeString(config, json.toString());
    }

    /** Issue 14, case 6: merge wrote a copy of the base model and exited 0; now every command refuses, and merge writes nothing. */
    @Test
    void anAdapterMatchingNoLayerIsAnErrorEverywhere() throws IOException {
        Path merged = dir.resolve("merged");
        Run merge = cli("merge", "--model", TEST_MODEL.toString(), "--adapter", strayAdapter.toString(), "--out", merged.toString());
        Run eval = cli("eval", "--model", TEST_MODEL.toString(), "--adapter", strayAdapter.toString(), "--data", TEST_EVAL.toString());
        Run generate = cli("generate", "--model", TEST_MODEL.toString(), "--adapter", strayAdapter.toString(), "--prompt", "shift ab =");
        for (Run r : List.of(merge, eval, generate)) {
            assertEquals(2, r.code(), r.err());
            String line = errorLine(r);
            assertTrue(line.contains(strayAdapter + ": the adapter (target modules") && line.contains("matches none of the model's linear layers"), line);
        }
        assertFalse(Files.exists(merged), "merge wrote nothing");
        try (var left = Files.list(dir)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith(".merged")), "no temporary directory either");
        }
    }

    /** compare trains each variant in a child JVM: a target that matches nothing fails there, and compare exits 2 saying why. */
    @Test
    void compareWithTargetsMatchingNothingExitsTwo() {
        Run r = cli("compare", "--model", TEST_MODEL.toString(), "--data", TEST_EVAL.toString(), "--variants", "qoft", "--steps", "1",
                "--batch-size", "2", "--seq-len", "32", "--out", dir.resolve("compare").toString(), "target-modules=qkv_fused");
        assertEquals(2, r.code(), r.err());
        assertTrue(errorLine(r).startsWith("error: variant qoft failed: target modules [qkv_fused] match none of the model's projections"), r.err());
    }

    /** Issue 14, case 7, end to end: invalid UTF-8 names file:line and the byte offset; --skip-malformed skips it. */
    @Test
    void invalidUtf8InDataIsNamedOrSkipped() throws IOException {
        Path data = dir.resolve("mixed.jsonl");
        byte[] good = "{\"text\": \"shift ab = bc\"}\n".getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(good);
        b.write("{\"text\": \"caf".getBytes(StandardCharsets.UTF_8));
        b.write(new byte[] {(byte) 0xC3, (byte) 0x28}); // a lead byte followed by '(': invalid
        b.write("\"}\n".getBytes(StandardCharsets.UTF_8));
        b.write(good);
        Files.write(data, b.toByteArray());
        Run r = cli("eval", "--model", TEST_MODEL.toString(), "--data", data.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(errorLine(r).contains(data + ":2: invalid UTF-8 at byte offset " + (good.length + 13) + " of the file (byte 14 of the line: 0xC3)")
                && errorLine(r).contains("--skip-malformed"), r.err());
        r = cli("eval", "--model", TEST_MODEL.toString(), "--data", data.toString(), "--skip-malformed");
        assertEquals(0, r.code(), r.err());
        assertEquals(1, new ObjectMapper().readTree(r.out().trim()).get("skipped_lines").asInt());
        assertEquals(2, new ObjectMapper().readTree(r.out().trim()).get("samples").asInt());
    }

    /** Issue 14, case 8: every wrong value at once; a broken YAML file in one line. */
    @Test
    void settingErrorsAreListedAtOnceAndParserErrorsAreOneLine() throws IOException {
        Run r = cli("finetune", "--model", TEST_MODEL.toString(), "--data", TEST_EVAL.toString(), "--out", dir.resolve("bad").toString(),
                "steps=abc", "batch-size=xyz", "lr=fast");
        assertEquals(2, r.code());
        for (String key : List.of("steps", "batch-size", "lr")) assertTrue(r.err().contains("option '" + key + "' must be"), r.err());
        Path yaml = Files.writeString(dir.resolve("broken.yaml"), "steps: 3\ndata: \"unterminated\nlr: 1e-4\n");
        r = cli("finetune", "--config", yaml.toString(), "--model", TEST_MODEL.toString());
        assertEquals(2, r.code());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("error: " + yaml + ": not valid YAML: line ") && !r.err().contains("[Source"), r.err());
        assertFalse(Files.exists(dir.resolve("bad")));

        Path broken = Files.createDirectories(dir.resolve("broken-model"));
        Files.writeString(broken.resolve("config.json"), "{\"model_type\": \"llama\",\n \"hidden_size\": 64,,\n}");
        r = cli("eval", "--model", broken.toString(), "--data", TEST_EVAL.toString());
        assertEquals(2, r.code());
        assertTrue(errorLine(r).contains("config.json: not valid JSON: line 2, column ") && !r.err().contains("[Source"), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
    }

    /** Issue 14, case 5: a second run into a directory another run holds is refused, naming the holder. */
    @Test
    void aLockedOutputDirectoryIsRefused() throws IOException {
        Path model = TinyLlama.writeDir(dir.resolve("tiny"), 5);
        Path data = TinyLlama.writeJsonl(dir.resolve("train.jsonl"), TinyLlama.countUp(8, 16, 3));
        Path out = dir.resolve("busy");
        try (RunLock other = RunLock.acquire(out, n -> {})) {
            Run r = cli("finetune", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(), "--steps", "1",
                    "--no-progress", "--oft-block-size", "16");
            assertEquals(2, r.code(), r.err());
            assertTrue(errorLine(r).contains(out + " is in use by another run (pid " + ProcessHandle.current().pid() + " on host "), r.err());
        }
        assertFalse(Files.exists(out.resolve("metrics.jsonl")));
    }
}
