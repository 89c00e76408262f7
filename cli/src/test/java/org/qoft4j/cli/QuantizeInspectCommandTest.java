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
import org.qoft4j.core.safetensors.HfCheckpoint;
import picocli.CommandLine;

/** {@code quantize} and {@code inspect} run through the real command line on a tiny generated model. */
class QuantizeInspectCommandTest {
    @TempDir
    Path tmp;

    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        CommandLine cl = Qoft4jCommand.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void quantizeThenInspect() throws Exception {
        Path in = tmp.resolve("in");
        Run gen = run("random-model", in.toString(), "--shards", "2");
        assertEquals(0, gen.code(), gen.err());
        assertTrue(gen.out().contains("2 layers, hidden 64"), gen.out());
        Files.writeString(in.resolve("tokenizer.json"), "{}");
        Path out = tmp.resolve("out");

        Run q = run("quantize", "--model", in.toString(), "--out", out.toString(), "--type", "nf4", "--double-quant");
        assertEquals(0, q.code(), q.err());
        assertTrue(q.out().contains("quantized 14 tensors to nf4 (blocksize 64, double quant); copied 7 tensors and 2 files"), q.out());
        assertTrue(q.out().contains("bits/weight"), q.out());
        assertTrue(q.out().matches("(?s).*peak RSS: [0-9.]+ [KMG]iB.*"), q.out());
        try (HfCheckpoint c = HfCheckpoint.open(out)) {
            assertTrue(c.sharded());
            assertTrue(c.contains("model.layers.1.mlp.up_proj.weight.quant_state.bitsandbytes__nf4"));
        }
        assertTrue(Files.exists(out.resolve("tokenizer.json")));

        Run i = run("inspect", out.toString());
        assertEquals(0, i.code(), i.err());
        assertTrue(i.out().contains("quantization_config: bitsandbytes nf4, double quant, compute float32"), i.out());
        assertTrue(i.out().matches("(?s).*model\\.layers\\.0\\.self_attn\\.q_proj +nf4 +\\[64, 64\\] +\\d+  nf4 bnb, blocksize 64, double quant, [0-9.]+ bits/weight.*"), i.out());
        assertTrue(i.out().matches("(?s).*model\\.embed_tokens\\.weight +F32 +\\[256, 64\\] +65536  -.*"), i.out());
        assertTrue(i.out().contains(": 14 quantized layers, 73,728 params"), i.out());
        assertFalse(i.out().contains("quant_state"), "parts are folded into one line per layer without --raw");
        Run r = run("inspect", "--raw", out.toString());
        assertTrue(r.out().contains(".weight.quant_state.bitsandbytes__nf4"), r.out() + r.err());

        Run again = run("quantize", "--model", in.toString(), "--out", out.toString(), "--type", "int4", "--group-size", "32");
        assertEquals(2, again.code());
        assertTrue(again.err().contains("not empty (pass --overwrite"), again.err());
        Run int4 = run("quantize", "--model", in.toString(), "--out", out.toString(), "--type", "int4", "--group-size", "32", "--overwrite");
        assertEquals(0, int4.code(), int4.err());
        Run i4 = run("inspect", out.toString());
        assertTrue(i4.out().contains("int4 gptq, group size 32"), i4.out());
        assertTrue(i4.out().contains("quantization_config: gptq int4, group size 32"), i4.out());
    }

    @Test
    void badArgumentsAreOneClearLine() {
        Run bad = run("quantize", "--model", tmp.toString(), "--out", tmp.resolve("o").toString(), "--type", "int3");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("unknown quantization type 'int3': expected nf4, fp4 or int4"), bad.err());
        Run missing = run("inspect", tmp.resolve("nothing").toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().startsWith("error: ") && missing.err().contains("not a directory"), missing.err());
        Run dq = run("quantize", "--model", tmp.toString(), "--out", tmp.resolve("o").toString(), "--type", "int4", "--double-quant");
        assertEquals(2, dq.code());
        assertTrue(dq.err().contains("--double-quant applies to nf4/fp4 only"), dq.err());
    }
}
