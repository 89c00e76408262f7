package org.qoft4j.trainer;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.qoft4j.core.AtomicFiles;

/**
 * {@code metrics.jsonl}: one JSON object per line, {@link StepMetrics} ({@code "kind": "train"}) after every
 * optimizer step and {@link EvalMetrics} ({@code "kind": "eval"}) after every evaluation; flushed per line, so
 * it can be followed while training. A resumed run keeps the lines up to its checkpoint's step and appends.
 */
public final class MetricsLog implements AutoCloseable {
    public static final String FILE = "metrics.jsonl";
    static final ObjectMapper JSON = new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .setSerializationInclusion(JsonInclude.Include.NON_NULL);

    private final Path file;
    private final BufferedWriter out;

    /** @param keepThroughStep 0: start a new file; else keep the existing lines whose step is at most this */
    public MetricsLog(Path file, int keepThroughStep) {
        this.file = file;
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            List<String> kept = new ArrayList<>();
            if (keepThroughStep > 0 && Files.exists(file))
                for (JsonNode n : read(file)) if (n.path("step").asInt() <= keepThroughStep) kept.add(JSON.writeValueAsString(n));
            AtomicFiles.write(file, kept.isEmpty() ? new byte[0] : (String.join("\n", kept) + "\n").getBytes(StandardCharsets.UTF_8));
            this.out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + file + ": " + e.getMessage(), e);
        }
    }

    private MetricsLog() {
        this.file = null;
        this.out = null;
    }

    /** A log that writes nothing: what data-parallel ranks other than 0 keep (rank 0 writes the run's one file). */
    public static MetricsLog discarding() {
        return new MetricsLog();
    }

    public Path file() {
        return file;
    }

    public void write(Object record) {
        if (out == null) return;
        try {
            out.write(JSON.writeValueAsString(record));
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** Every line of a metrics file. */
    public static List<JsonNode> read(Path file) {
        List<JsonNode> lines = new ArrayList<>();
        try {
            int n = 0;
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                n++;
                if (line.isBlank()) continue;
                try {
                    lines.add(JSON.readTree(line));
                } catch (IOException e) {
                    throw new IllegalArgumentException(file + ":" + n + ": not a JSON object: " + e.getMessage(), e);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        return lines;
    }

    @Override
    public void close() {
        if (out == null) return;
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close " + file, e);
        }
    }
}
