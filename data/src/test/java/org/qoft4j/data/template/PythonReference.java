package org.qoft4j.data.template;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs scripts/hf_chat_template.py (Python jinja2 as transformers sets it up); tests skip when python3 or jinja2 is missing. */
final class PythonReference {
    private PythonReference() {
    }

    private static Boolean available;

    static synchronized boolean available() {
        if (available == null) {
            try {
                Process p = new ProcessBuilder("python3", "-c", "import jinja2").redirectErrorStream(true).start();
                available = p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
            } catch (IOException | InterruptedException e) {
                available = false;
            }
        }
        return available;
    }

    static void assumeAvailable() {
        assumeTrue(available(), "python3 with jinja2 is not installed: the live comparison with Python's jinja2 is skipped (the golden tests still run)");
    }

    /** Runs the script with the given arguments; returns its parsed JSON output's "results". */
    @SuppressWarnings("unchecked")
    static <T> Map<String, T> run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("python3", ChatTemplateCases.SCRIPT.toString()));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("hf-chat-template", ".json");
        try {
            Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException("failed: " + String.join(" ", cmd));
            return (Map<String, T>) ChatTemplateCases.readJson(out).get("results");
        } finally {
            Files.deleteIfExists(out);
        }
    }

    static Path writeTemp(String json) throws IOException {
        Path p = Files.createTempFile("chat-cases", ".json");
        Files.writeString(p, json, StandardCharsets.UTF_8);
        return p;
    }
}
