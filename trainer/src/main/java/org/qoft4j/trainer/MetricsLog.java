package org.qoft4j.trainer;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.qoft4j.core.AtomicFiles;
import org.qoft4j.core.DiskFullException;
import org.qoft4j.core.FileWrites;

/**
 * {@code metrics.jsonl}: one JSON object per line, {@link StepMetrics} ({@code "kind": "train"}) after every
 * optimizer step and {@link EvalMetrics} ({@code "kind": "eval"}) after every evaluation; written a line at a time,
 * so it can be followed while training.
 *
 * <p>A resumed run truncates the log back to its checkpoint's step and appends: the log is a log, the checkpoint is
 * the truth. Lines of later steps (the interrupted run went on after its last checkpoint) and unreadable lines (a
 * line half-written when the disk filled or the process was killed) are dropped, and {@link #resumeNote()} says so.
 */
public final class MetricsLog implements AutoCloseable {
    public static final String FILE = "metrics.jsonl";
    static final ObjectMapper JSON = new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .setSerializationInclusion(JsonInclude.Include.NON_NULL);

    private final Path file;
    private final FileChannel out;
    private final String resumeNote;

    /** @param keepThroughStep 0: start a new file; else keep the existing lines whose step is at most this */
    public MetricsLog(Path file, int keepThroughStep) {
        this.file = file;
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Truncation t = keepThroughStep > 0 && Files.exists(file) ? truncate(file, keepThroughStep) : new Truncation(List.of(), null);
            AtomicFiles.write(file, t.kept().isEmpty() ? new byte[0] : (String.join("\n", t.kept()) + "\n").getBytes(StandardCharsets.UTF_8));
            this.resumeNote = t.note();
            this.out = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + file + ": " + e.getMessage(), e);
        }
    }

    private MetricsLog() {
        this.file = null;
        this.out = null;
        this.resumeNote = null;
    }

    /** A log that writes nothing: what data-parallel ranks other than 0 keep (rank 0 writes the run's one file). */
    public static MetricsLog discarding() {
        return new MetricsLog();
    }

    public Path file() {
        return file;
    }

    /** What resuming dropped from the log, one line; null when it dropped nothing. */
    public String resumeNote() {
        return resumeNote;
    }

    public void write(Object record) {
        if (out == null) return;
        try {
            FileWrites.writeFully(out, ByteBuffer.wrap((JSON.writeValueAsString(record) + "\n").getBytes(StandardCharsets.UTF_8)));
        } catch (IOException e) {
            DiskFullException full = DiskFullException.ifDiskFull(file, e);
            if (full != null) throw full;
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** Every line of a metrics file; an unreadable line is an error naming {@code file:line}. */
    public static List<JsonNode> read(Path file) {
        List<JsonNode> lines = new ArrayList<>();
        try {
            int n = 0;
            // decoded leniently: a line cut inside a character is reported as that line, not as "Input length = 1"
            for (String line : new String(Files.readAllBytes(file), StandardCharsets.UTF_8).split("\\r\\n|\\n|\\r", -1)) {
                n++;
                if (line.isBlank()) continue;
                try {
                    lines.add(JSON.readTree(line));
                } catch (JsonProcessingException e) {
                    throw new IllegalArgumentException(file + ":" + n + ": not a JSON object: " + e.getOriginalMessage(), e);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        return lines;
    }

    private record Truncation(List<String> kept, String note) {}

    /** The lines to keep when resuming at {@code step}, and what was dropped. */
    private static Truncation truncate(Path file, int step) throws IOException {
        List<String> kept = new ArrayList<>();
        List<Integer> unreadable = new ArrayList<>();
        int later = 0, lastStep = step, n = 0;
        // decoded leniently: a line cut in the middle of a character is one of the unreadable ones, not an error
        for (String line : new String(Files.readAllBytes(file), StandardCharsets.UTF_8).split("\n", -1)) {
            n++;
            if (line.isBlank()) continue;
            JsonNode node;
            try {
                node = JSON.readTree(line);
            } catch (JsonProcessingException e) {
                node = null;
            }
            if (node == null || !node.isObject() || !node.path("step").canConvertToInt()) {
                unreadable.add(n);
            } else if (node.path("step").asInt() <= step) {
                kept.add(JSON.writeValueAsString(node));
            } else {
                later++;
                lastStep = Math.max(lastStep, node.path("step").asInt());
            }
        }
        if (later == 0 && unreadable.isEmpty()) return new Truncation(kept, null);
        List<String> what = new ArrayList<>();
        if (later > 0) what.add(later + " line(s) of " + (lastStep > step + 1 ? "steps " + (step + 1) + "-" + lastStep : "step " + lastStep) + " after it");
        if (!unreadable.isEmpty())
            what.add(unreadable.size() + " unreadable line(s) (line " + unreadable.get(0) + (unreadable.size() > 1 ? ", ..." : "")
                    + "; half-written when the run was interrupted)");
        return new Truncation(kept, file + ": truncated to the checkpoint's step " + step + " (the checkpoint is the truth): dropped "
                + String.join(" and ", what));
    }

    @Override
    public void close() {
        if (out == null) return;
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close " + file + ": " + e.getMessage(), e);
        }
    }
}
