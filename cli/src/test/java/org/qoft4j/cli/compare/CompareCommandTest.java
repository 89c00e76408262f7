package org.qoft4j.cli.compare;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.cli.bench.TrainProbe;
import org.qoft4j.cli.Qoft4jCommand;
import org.qoft4j.trainer.ConfigException;
import picocli.CommandLine;

/** {@code ./qoft4j compare} on the bundled test data, shortened to 2 steps of small batches: two child JVMs. */
class CompareCommandTest {
    @Test
    void comparesQoftAndQloraOnTestDataAndWritesTheReport(@TempDir Path out) throws IOException {
        CommandLine cl = Qoft4jCommand.commandLine();
        StringWriter text = new StringWriter();
        cl.setOut(new PrintWriter(text));
        int rc = cl.execute("compare", "--steps", "2", "--batch-size", "2", "--seq-len", "64", "--untimed-steps", "1",
                "--max-eval-examples", "2", "--out", out.toString(), "warmup=1");
        String s = text.toString();
        assertEquals(0, rc, s);

        String md = Files.readString(out.resolve(ComparisonReport.MARKDOWN));
        String header = md.lines().filter(l -> l.startsWith("| run |")).findFirst().orElseThrow(() -> new AssertionError(md));
        List<String> columns = Arrays.stream(header.split("\\|")).map(String::trim).filter(c -> !c.isEmpty()).toList();
        assertEquals(List.of("run", "trainable parameters", "adapter bytes", "peak memory (RSS)", "step time", "tokens/s", "final train loss",
                "new skill: shift loss", "new skill: shift accuracy", "base skill: copy loss", "base skill: copy accuracy",
                "max orthogonality error"), columns);
        List<String> rows = md.lines().filter(l -> l.startsWith("| QOFT") || l.startsWith("| QLoRA")).toList();
        assertEquals(2, rows.size(), md);
        for (String row : rows) assertEquals(columns.size(), row.split("\\|").length - 1, row);
        assertTrue(s.contains("QOFT ÷ QLoRA: step time"), s);

        JsonNode json = TrainProbe.JSON.readTree(out.resolve(ComparisonReport.JSON).toFile());
        JsonNode qoft = json.path("runs").path("qoft"), qlora = json.path("runs").path("qlora");
        assertEquals("oft", qoft.path("adapter").asText());
        assertEquals("lora", qlora.path("adapter").asText());
        for (JsonNode r : List.of(qoft, qlora)) {
            assertEquals("nf4", r.path("quant").asText());
            assertEquals(2, r.path("losses").size());
            assertTrue(r.path("peak_bytes").asLong() > r.path("weight_bytes").asLong(), r.toString());
            assertTrue(r.path("step_seconds").asDouble() > 0 && r.path("tokens_per_s").asDouble() > 0, r.toString());
            assertEquals(2, r.path("after").size());
            assertEquals(2, r.path("after").get(0).path("examples").asInt());
        }
        // same seed, data and base: the first step sees the same batch and the same (identity-initialized) model
        assertEquals(qoft.path("losses").get(0).asDouble(), qlora.path("losses").get(0).asDouble(), 1e-4);
        // QOFT's rotations stay orthogonal; LoRA has none
        assertTrue(qoft.path("max_orthogonality_error").asDouble() < 1e-3, qoft.toString());
        assertTrue(qlora.path("max_orthogonality_error").isMissingNode());
        assertTrue(qoft.path("trainable_parameters").asLong() < qlora.path("trainable_parameters").asLong());
        byte[] png = Files.readAllBytes(out.resolve(ComparisonReport.CHART));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
        assertTrue(Files.exists(out.resolve("qoft/adapter/adapter_model.safetensors")));
    }

    @Test
    void rejectsBadSpecsBeforeStartingAnyRun(@TempDir Path out) {
        ConfigException e = assertThrows(ConfigException.class, () -> CompareSpec.randomModel("1b").withSkill("x", out.resolve("missing.jsonl"))
                .withVariants(Variant.QOFT, Variant.QOFT).with("adapter=lora").validate());
        assertTrue(e.getMessage().contains("need a tokenizer") && e.getMessage().contains("listed twice")
                && e.getMessage().contains("missing.jsonl") && e.getMessage().contains("'adapter=lora'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Variant.parse("dora"));
    }
}
