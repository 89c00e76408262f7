package org.qoft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** README's main command, {@code ./qoft4j finetune} with no model named, shortened to a few steps. */
class DemoJobTest {
    @Test
    void demoRunsOnTestDataAndReportsBothSkills(@TempDir Path out) {
        System.setProperty("qoft4j.home", Path.of("..").toAbsolutePath().normalize().toString());
        CommandLine cl = Qoft4jCommand.commandLine();
        StringWriter text = new StringWriter();
        cl.setOut(new PrintWriter(text));
        int rc = cl.execute("finetune", "--steps", "2", "--skill-eval-examples", "6", "--out", out.toString());
        String s = text.toString();
        assertEquals(0, rc, s);
        assertTrue(s.contains("new skill: shift (6)") && s.contains("base skill: copy (6)"), s);
        assertTrue(s.contains("OFT on nf4 base: 2 steps"), s);
        assertTrue(Files.exists(out.resolve("adapter/adapter_model.safetensors")), "adapter written");
        assertTrue(Files.exists(out.resolve("loss.png")), "loss curve written");
    }
}
