package org.qoft4j.core.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.qoft4j.core.safetensors.SafetensorsFiles.entry;
import static org.qoft4j.core.safetensors.SafetensorsFiles.raw;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every malformed-file case is a {@link SafetensorsException} that names the file, the tensor (when there is one) and the problem. */
class SafetensorsBadInputTest {
    @TempDir
    Path dir;

    private SafetensorsException rejects(Path file, String tensor, String problem) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(file).close());
        assertEquals(file, e.file());
        assertEquals(tensor, e.tensor(), e.getMessage());
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        if (tensor != null) assertTrue(e.getMessage().contains("'" + tensor + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(problem), () -> "expected '" + problem + "' in: " + e.getMessage());
        return e;
    }

    private Path header(String json, int dataBytes) {
        return raw(dir.resolve("m.safetensors"), json, dataBytes);
    }

    @Test
    void fileShorterThanEightBytes() {
        rejects(SafetensorsFiles.bytes(dir.resolve("empty.safetensors"), new byte[0]), null, "fewer than the 8-byte header length");
        rejects(SafetensorsFiles.bytes(dir.resolve("five.safetensors"), new byte[] {2, 0, 0, 0, 0}), null, "fewer than the 8-byte");
    }

    @Test
    void headerLengthPastEndOfFile() {
        byte[] b = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN).putLong(100).put((byte) '{').put((byte) '}').array();
        rejects(SafetensorsFiles.bytes(dir.resolve("t.safetensors"), b), null, "runs past the end of the file");
    }

    @Test
    void oversizedHeader() {
        byte[] b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(200_000_000L).array();
        rejects(SafetensorsFiles.bytes(dir.resolve("big.safetensors"), b), null, "exceeds the limit of 100000000 bytes");
        byte[] neg = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1L).array();
        rejects(SafetensorsFiles.bytes(dir.resolve("neg.safetensors"), neg), null, "header length 18446744073709551615 exceeds");
    }

    @Test
    void nonUtf8Header() {
        rejects(raw(dir.resolve("u.safetensors"), new byte[] {'{', '"', (byte) 0xff, '"', ':', '1', '}', ' '}, 0), null, "not valid UTF-8");
    }

    @Test
    void nonJsonHeader() {
        rejects(header("{\"a\": {\"dtype\": ", 0), null, "not valid JSON");
        rejects(header("hello!!!", 0), null, "not valid JSON");
        rejects(header("{} {}", 0), null, "content after the closing brace");
    }

    @Test
    void headerNotAnObject() {
        rejects(header("[1,2,3] ", 0), null, "must be a JSON object");
        rejects(header("\"text\"", 0), null, "must be a JSON object");
        rejects(header("        ", 0), null, "must be a JSON object, found nothing");
    }

    @Test
    void unknownDtype() {
        rejects(header("{" + entry("w", "F8_E4M3", "[2]", 0, 2) + "}", 2), "w", "unknown dtype 'F8_E4M3'");
        rejects(header("{\"w\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,2]}}", 2), "w", "dtype must be a string");
    }

    @Test
    void badShapeEntries() {
        rejects(header("{" + entry("w", "U8", "[-2]", 0, 0) + "}", 0), "w", "shape[0] is negative (-2)");
        rejects(header("{" + entry("w", "U8", "[1.5]", 0, 0) + "}", 0), "w", "shape[0] must be an integer, found 1.5");
        rejects(header("{" + entry("w", "U8", "[2,\"3\"]", 0, 6) + "}", 6), "w", "shape[1] must be an integer");
        rejects(header("{" + entry("w", "U8", "4", 0, 4) + "}", 4), "w", "shape must be an array of integers");
        rejects(header("{" + entry("w", "U8", "[99999999999999999999]", 0, 4) + "}", 4), "w", "shape[0] must be an integer");
        rejects(header("{" + entry("w", "F64", "[4294967296,4294967296]", 0, 0) + "}", 0), "w", "overflows");
    }

    @Test
    void dataOffsetsOutOfRange() {
        rejects(header("{" + entry("w", "F32", "[4]", 0, 16) + "}", 8), "w", "run past the data section of 8 bytes");
        rejects(header("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1), "w", "data_offsets must have 2 entries");
        rejects(header("{" + entry("w", "U8", "[0]", -1, -1) + "}", 0), "w", "data_offsets[0] is negative");
    }

    @Test
    void beginAfterEnd() {
        rejects(header("{" + entry("w", "U8", "[0]", 4, 0) + "}", 4), "w", "begin 4 is after end 0");
    }

    @Test
    void overlappingTensors() {
        rejects(header("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12), "b", "overlap tensor 'a'");
    }

    @Test
    void gapsAndUncoveredData() {
        rejects(header("{" + entry("a", "U8", "[2]", 0, 2) + "," + entry("b", "U8", "[2]", 4, 6) + "}", 6), "b", "bytes [2, 4) of the data section");
        rejects(header("{" + entry("a", "U8", "[2]", 0, 2) + "}", 5), null, "has 5 bytes but the tensors cover only 2");
    }

    @Test
    void shapeTimesDtypeDiffersFromByteLength() {
        rejects(header("{" + entry("w", "BF16", "[3,2]", 0, 6) + "}", 6), "w", "needs 12 bytes but data_offsets [0, 6] hold 6");
    }

    @Test
    void duplicateNames() {
        rejects(header("{" + entry("w", "U8", "[1]", 0, 1) + "," + entry("w", "U8", "[1]", 0, 1) + "}", 1), "w", "appears twice");
    }

    @Test
    void malformedEntriesAndMetadata() {
        rejects(header("{\"w\":[1]}", 0), "w", "entry must be an object");
        rejects(header("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1), "w", "unexpected key 'x'");
        rejects(header("{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1), "w", "shape must be an array");
        rejects(header("{\"__metadata__\":{\"format\":1}}", 0), null, "value of 'format' must be a string");
        rejects(header("{\"__metadata__\":[]}", 0), null, "__metadata__ must be an object of strings");
    }

    @Test
    void unknownTensorNameIsNamed() {
        Path f = header("{" + entry("w", "U8", "[1]", 0, 1) + "}", 1);
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> sf.load("nope"));
            assertEquals("nope", e.tensor());
            assertTrue(e.getMessage().contains("no such tensor"));
        }
    }
}
