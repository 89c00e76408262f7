package org.qoft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.gguf.GgufFile;
import org.qoft4j.gguf.GgufInspector;
import org.qoft4j.data.TestData;
import picocli.CommandLine;

/** {@code export-gguf} as the command line runs it (through picocli), and {@code inspect} on its output. */
class ExportGgufCommandTest {
    @TempDir
    Path tmp;

    private static String[] run(String... args) {
        CommandLine cl = new CommandLine(new ExportGgufCommand());
        cl.setExecutionExceptionHandler((ex, line, parse) -> {
            line.getErr().println("error: " + ex.getMessage());
            return 2;
        });
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int rc = cl.execute(args);
        return new String[] {String.valueOf(rc), out.toString(), err.toString()};
    }

    @Test
    void exportsTheTestDataModelAndPrintsHowToRunIt() throws java.io.IOException {
        Path out = tmp.resolve("tiny.gguf");
        String[] r = run("--model", TestData.model().toString(), "--out", out.toString(), "--type", "q4_k_m");
        assertEquals("0", r[0], r[2]);
        String o = r[1];
        assertTrue(o.contains("wrote " + out.toAbsolutePath()), o);
        // 4 layers, rows of 128 (384 for ffn_down): no q4_K/q6_K fits. q6_K is wanted for attn_v and ffn_down of layers 2 and 3
        // (use_more_bits) -> q8_0, 4 tensors; output -> q8_0 directly; the other 6 x 4 matrices and token_embd want q4_K -> q5_0
        assertTrue(o.contains("tensors: 39 (9 f32, 25 q5_0, 5 q8_0)"), o);
        assertTrue(o.contains("29 tensor(s) fall back to another type, as llama.cpp does"), o);
        assertTrue(o.contains("blk.0.attn_q.weight: rows of 128 values are not a multiple of 256 (required by q4_K) -> q5_0"), o);
        assertTrue(o.contains("llama-cli -m " + out.toAbsolutePath()), o);
        assertTrue(o.contains("ollama create tiny -f " + tmp.resolve("tiny.Modelfile").toAbsolutePath()), o);
        assertTrue(o.contains("tokenizer: gpt2 (pre gpt-2), special ids {bos=1, eos=2, pad=0}, chat template included"), o);
        String modelfile = Files.readString(tmp.resolve("tiny.Modelfile"));
        assertTrue(modelfile.contains("FROM ./tiny.gguf\n") && modelfile.contains("TEMPLATE \"\"\"{{ range $i, $_ := .Messages }}")
                && modelfile.contains("PARAMETER stop \"</s>\""), modelfile); // the BOS is left to Ollama (add_bos_token is true)
        GgufFile g = GgufFile.read(out);
        assertEquals(15, g.get("general.file_type").asLong());
        assertEquals("tiny-llama", g.get("general.name").asString());
        assertEquals(Files.size(out), g.fileSize());
        assertTrue(o.contains("(" + g.fileSize() + " bytes)"), o);

        StringWriter listing = new StringWriter();
        GgufInspector.print(out, new PrintWriter(listing), 3);
        String l = listing.toString();
        assertTrue(l.contains("GGUF v3, " + g.fileSize() + " bytes"), l);
        assertTrue(l.contains("tokenizer.ggml.tokens"), l);
        assertTrue(l.contains("string[259] [\"<pad>\", \"<s>\", \"</s>\", ...]"), l);
        assertTrue(l.matches("(?s).*blk\\.0\\.attn_q\\.weight\\s+q5_0\\s+\\[128, 128\\].*"), l);
        assertTrue(l.contains("q8_0      5 tensors"), l);
    }

    @Test
    void badArgumentsAreOneLineErrors() {
        String[] r = run("--model", TestData.model().toString(), "--out", tmp.resolve("x.gguf").toString(), "--type", "q3_k");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("error: unknown GGUF type 'q3_k': expected one of f32, f16, bf16, q8_0, q4_0, q4_k_m"), r[2]);
        assertFalse(Files.exists(tmp.resolve("x.gguf")));
    }
}
