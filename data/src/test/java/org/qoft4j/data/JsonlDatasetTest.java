package org.qoft4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonlDatasetTest {
    static final SampleEncoder TOKENS = new SampleEncoder(null, false, 1000);

    @Test
    void malformedLineIsAnErrorNamingFileAndLine(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("train.jsonl");
        Files.writeString(f, "{\"input_ids\": [1, 2]}\n\n{\"input_ids\": [3, 4]\n{\"input_ids\": [5]}\n");
        DataException e = assertThrows(DataException.class, () -> JsonlDataset.read(f, TOKENS, false, 0));
        assertTrue(e.getMessage().startsWith(f + ":3: not valid JSON"), e.getMessage());

        Files.writeString(f, "{\"input_ids\": [1, 2]}\n{\"ids\": [3]}\n");
        e = assertThrows(DataException.class, () -> JsonlDataset.read(f, TOKENS, false, 0));
        assertTrue(e.getMessage().startsWith(f + ":2: expected a JSON object with \"text\""), e.getMessage());
    }

    @Test
    void skipModeCountsMalformedLines(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("train.jsonl");
        Files.writeString(f, "{\"input_ids\": [1, 2]}\nnot json\n{\"input_ids\": [3, 4]}\n{\"input_ids\": [\"x\"]}\n\n{\"input_ids\": [5, 6]}\n");
        JsonlDataset d = JsonlDataset.read(f, TOKENS, true, 0);
        assertEquals(3, d.samples().size());
        assertEquals(2, d.skipped());
        assertTrue(d.skipReasons().get(0).startsWith(f + ":2: "), d.skipReasons().toString());
        assertTrue(d.skipReasons().get(1).startsWith(f + ":4: "), d.skipReasons().toString());
        assertEquals(2, JsonlDataset.read(f, TOKENS, true, 2).samples().size(), "max samples");
    }

    /** Invalid UTF-8 (issue 14, case 7): named by file:line and byte offset, skippable, and the other lines still read. */
    @Test
    void invalidUtf8NamesTheLineAndByteOffsetAndCanBeSkipped(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("train.jsonl");
        byte[] good1 = "{\"input_ids\": [1, 2], \"source\": \"caf\u00e9\"}\r\n".getBytes(java.nio.charset.StandardCharsets.UTF_8); // CRLF and a 2-byte character
        byte[] bad = "{\"input_ids\": [3], \"source\": \"ab\u00ff\"}\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);    // 0xFF: never valid UTF-8
        byte[] good2 = "{\"input_ids\": [5]}\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        all.write(good1);
        all.write(bad);
        all.write(good2);
        Files.write(f, all.toByteArray());
        int inLine = "{\"input_ids\": [3], \"source\": \"ab".length();
        long offset = good1.length + inLine;

        DataException e = assertThrows(DataException.class, () -> JsonlDataset.read(f, TOKENS, false, 0));
        assertTrue(e.getMessage().startsWith(f + ":2: invalid UTF-8 at byte offset " + offset + " of the file (byte " + (inLine + 1) + " of the line: 0xFF)")
                && e.getMessage().contains("--skip-malformed"), e.getMessage());

        JsonlDataset d = JsonlDataset.read(f, TOKENS, true, 0);
        assertEquals(2, d.samples().size());
        assertEquals(1, d.skipped());
        assertTrue(d.skipReasons().get(0).startsWith(f + ":2: invalid UTF-8 at byte offset " + offset), d.skipReasons().toString());
    }

    @Test
    void emptyOrMissingFilesAreErrors(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("empty.jsonl");
        Files.writeString(f, "\n\n");
        assertTrue(assertThrows(DataException.class, () -> JsonlDataset.read(f, TOKENS, false, 0)).getMessage().contains("no usable samples"));
        Path missing = dir.resolve("missing.jsonl");
        assertTrue(assertThrows(DataException.class, () -> JsonlDataset.read(missing, TOKENS, false, 0)).getMessage().contains("no such file"));
    }

    @Test
    void splitIsDeterministicDisjointAndComplete() {
        List<Sample> all = new ArrayList<>();
        for (int i = 0; i < 50; i++) all.add(Sample.allScored(new long[] {i, i + 1}));
        JsonlDataset.Split a = JsonlDataset.split(all, 0.2, 7), b = JsonlDataset.split(all, 0.2, 7), c = JsonlDataset.split(all, 0.2, 8);
        assertEquals(10, a.eval().size());
        assertEquals(40, a.train().size());
        assertEquals(a, b);
        assertNotEquals(a.eval(), c.eval());
        Set<Sample> union = new HashSet<>(a.train());
        union.addAll(a.eval());
        assertEquals(50, union.size());
        assertEquals(1, JsonlDataset.split(all.subList(0, 3), 0.01, 1).eval().size(), "a positive fraction keeps at least one eval sample");
        assertThrows(IllegalArgumentException.class, () -> JsonlDataset.split(all.subList(0, 1), 0.5, 1));
    }
}
