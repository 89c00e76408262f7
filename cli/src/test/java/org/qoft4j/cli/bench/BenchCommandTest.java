package org.qoft4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.cli.Qoft4jCommand;
import org.qoft4j.data.TestData;
import picocli.CommandLine;

/**
 * {@code ./qoft4j bench} with every case, shortened: OFT v1 vs v2 on a micro random-weight model, the other cases on
 * the test-data model directory (trained on random tokens). The JSON has each ratio, its target and the runs behind it.
 */
class BenchCommandTest {
    static final String MODEL = "hidden=64,intermediate=128,layers=1,heads=2,kv-heads=2,vocab=256";

    @Test
    void benchPrintsEveryCaseAsJson(@TempDir Path dir) throws IOException {
        CommandLine cl = Qoft4jCommand.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        Path file = dir.resolve("bench.json");
        int rc = cl.execute("bench", "--model", TestData.model().toString(), "--v1-model", MODEL, "--seq-len", "16", "--batch-size", "2",
                "--steps", "2", "--dequant-size", "128",
                "--work", dir.resolve("work").toString(), "--out", file.toString());
        assertEquals(0, rc, err.toString());
        JsonNode j = TrainProbe.JSON.readTree(out.toString());
        assertEquals(j, TrainProbe.JSON.readTree(file.toFile()), "--out holds what was printed");

        JsonNode v = j.path("oft_v1_vs_v2");
        assertEquals("oft", v.path("oftv2").path("adapter").asText());
        assertEquals("oft-v1", v.path("oftv1").path("adapter").asText());
        // the same adapter computed two ways: same parameters, same first loss
        assertEquals(v.path("oftv2").path("trainable_parameters").asLong(), v.path("oftv1").path("trainable_parameters").asLong());
        assertEquals(v.path("oftv2").path("losses").get(0).asDouble(), v.path("oftv1").path("losses").get(0).asDouble(), 1e-4);
        checkTarget(v.path("v1_step_time_over_v2"), v.path("oftv1").path("step_seconds").asDouble() / v.path("oftv2").path("step_seconds").asDouble());

        JsonNode q = j.path("qoft_vs_qlora");
        assertEquals("nf4", q.path("qoft").path("quant").asText());
        assertEquals(TestData.model().toString(), q.path("qoft").path("model").asText());
        assertEquals(2, q.path("qlora").path("batch_size").asInt());
        assertEquals("lora", q.path("qlora").path("adapter").asText());
        checkTarget(q.path("qoft_peak_memory_over_qlora"), q.path("qoft").path("peak_bytes").asDouble() / q.path("qlora").path("peak_bytes").asDouble());

        JsonNode f = j.path("qoft_vs_full_precision_oft");
        assertEquals("none", f.path("oft_full_precision").path("quant").asText());
        assertTrue(f.path("qoft_weight_bytes_over_full").asDouble() < 1, f.toString());
        checkTarget(f.path("qoft_peak_memory_over_full"), f.path("qoft").path("peak_bytes").asDouble() / f.path("oft_full_precision").path("peak_bytes").asDouble());

        JsonNode d = j.path("dequant");
        assertEquals("128x128", d.path("shape").asText());
        for (String k : List.of("copy_fp32", "kernel_to_fp32", "kernel_to_bf16", "reference_to_fp32", "reference_to_bf16")) {
            assertTrue(d.path(k).path("median_s").asDouble() > 0 && d.path(k).path("gb_per_s_median").asDouble() > 0, k + ": " + d);
            assertTrue(d.path(k).path("calls").asInt() >= 5, k + ": " + d);
        }
        assertEquals(d.path("kernel_to_fp32").path("median_s").asDouble() / d.path("copy_fp32").path("median_s").asDouble(),
                d.path("kernel_to_fp32").path("time_over_copy_fp32").asDouble(), 1e-9);
        assertTrue(Files.exists(dir.resolve("work/qoft/run.log")));
    }

    /** A target's verdict agrees with its measured ratio, which is the ratio of the runs' own figures. */
    private static void checkTarget(JsonNode t, double ratio) {
        double m = t.path("measured").asDouble();
        assertEquals(ratio, m, 1e-9 * ratio, t.toString());
        String[] target = t.path("target").asText().split(" ");
        double bound = Double.parseDouble(target[1]);
        assertEquals(target[0].equals(">=") ? m >= bound : m <= bound, t.path("met").asBoolean(), t.toString());
    }
}
