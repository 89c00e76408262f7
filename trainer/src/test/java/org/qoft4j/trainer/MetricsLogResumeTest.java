package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Resuming truncates metrics.jsonl back to the checkpoint's step (issue 14, case 2): the log is a log, the checkpoint is the truth. */
class MetricsLogResumeTest {
    @TempDir
    Path tmp;

    @Test
    void aHalfWrittenLineAndLaterStepsAreDroppedAndSaidSo() throws IOException {
        Path file = tmp.resolve(MetricsLog.FILE);
        StringBuilder sb = new StringBuilder();
        for (int s = 1; s <= 5; s++) sb.append("{\"kind\":\"train\",\"step\":").append(s).append(",\"loss\":").append(5 - s * 0.5).append("}\n");
        sb.append("{\"kind\":\"eval\",\"step\":4,\"eval_loss\":2.0}\n");
        // the disk filled in the middle of step 6's line, inside a two-byte character
        byte[] half = "{\"kind\":\"train\",\"step\":6,\"note\":\"é".getBytes(StandardCharsets.UTF_8);
        Files.write(file, concat(sb.toString().getBytes(StandardCharsets.UTF_8), java.util.Arrays.copyOf(half, half.length - 1)));
        IllegalArgumentException unreadable = assertThrows(IllegalArgumentException.class, () -> MetricsLog.read(file));
        assertTrue(unreadable.getMessage().startsWith(file + ":7: not a JSON object"), unreadable.getMessage());

        try (MetricsLog log = new MetricsLog(file, 3)) {
            String note = log.resumeNote();
            assertTrue(note.contains("truncated to the checkpoint's step 3") && note.contains("dropped 3 line(s) of steps 4-5 after it")
                    && note.contains("1 unreadable line(s) (line 7"), note);
            log.write(Map.of("kind", "train", "step", 4, "loss", 1.25));
        }
        List<JsonNode> lines = MetricsLog.read(file);
        assertEquals(List.of(1, 2, 3, 4), lines.stream().map(n -> n.path("step").asInt()).toList());
        assertEquals(1.25, lines.get(3).path("loss").asDouble());
    }

    @Test
    void nothingToDropSaysNothing() throws IOException {
        Path file = tmp.resolve(MetricsLog.FILE);
        Files.writeString(file, "{\"kind\":\"train\",\"step\":1}\n{\"kind\":\"train\",\"step\":2}\n");
        try (MetricsLog log = new MetricsLog(file, 2)) {
            assertNull(log.resumeNote());
        }
        assertEquals(2, MetricsLog.read(file).size());
        try (MetricsLog fresh = new MetricsLog(file, 0)) {
            assertNull(fresh.resumeNote());
        }
        assertEquals(0, Files.size(file), "a fresh run starts a new log");
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
