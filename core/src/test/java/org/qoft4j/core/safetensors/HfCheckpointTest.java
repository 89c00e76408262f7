package org.qoft4j.core.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.core.Tensors;

class HfCheckpointTest {
    @TempDir
    Path dir;
    private PointerScope scope;

    @BeforeEach
    void scope() {
        scope = new PointerScope();
    }

    @org.junit.jupiter.api.AfterEach
    void close() {
        scope.close();
    }

    private static Tensor t(float... v) {
        return Tensors.of(v, v.length);
    }

    /** Two shards: a+b in shard 1, c in shard 2, with an index that may be given verbatim. */
    private void sharded(String weightMapJson) throws IOException {
        SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), map("b", t(2, 3), "a", t(1)), Map.of("format", "pt"));
        SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), map("c", t(4, 5, 6)), Map.of("format", "pt"));
        Files.writeString(dir.resolve(HfCheckpoint.INDEX_FILE), "{\"metadata\":{\"total_size\":24},\"weight_map\":" + weightMapJson + "}");
    }

    private static final String GOOD_MAP = "{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\","
            + "\"c\":\"model-00002-of-00002.safetensors\"}";

    private static Map<String, Tensor> map(Object... kv) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], (Tensor) kv[i + 1]);
        return m;
    }

    @Test
    void singleFile() throws IOException {
        SafetensorsWriter.write(dir.resolve("model.safetensors"), map("w", t(1, 2), "v", t(3)), null);
        Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"llama\"}");
        try (HfCheckpoint c = HfCheckpoint.open(dir)) {
            assertFalse(c.sharded());
            assertEquals(List.of("v", "w"), c.names());
            assertArrayEquals(new float[] {1, 2}, Tensors.toFloats(c.load("w")));
            assertEquals(dir.resolve("model.safetensors"), c.fileOf("w").path());
            assertEquals("llama", c.config().get("model_type").textValue());
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> c.info("x"));
            assertEquals("x", e.tensor());
        }
    }

    @Test
    void shardedThroughTheIndex() throws IOException {
        sharded(GOOD_MAP);
        try (HfCheckpoint c = HfCheckpoint.open(dir)) {
            assertTrue(c.sharded());
            assertEquals(List.of("a", "b", "c"), c.names());
            assertEquals(dir.resolve("model-00002-of-00002.safetensors"), c.fileOf("c").path());
            assertArrayEquals(new float[] {4, 5, 6}, Tensors.toFloats(c.load("c")));
            assertArrayEquals(new long[] {2}, c.info("b").shape());
            assertEquals(2, c.files().size());
            assertEquals(null, c.config());
        }
    }

    @Test
    void missingShard() throws IOException {
        sharded(GOOD_MAP.replace("model-00002-of-00002", "model-00003-of-00002"));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> HfCheckpoint.open(dir));
        assertTrue(e.getMessage().contains("shard 'model-00003-of-00002.safetensors', which does not exist"), e.getMessage());
        assertEquals("c", e.tensor());
    }

    @Test
    void tensorListedButAbsentFromItsShard() throws IOException {
        sharded(GOOD_MAP.replace("}", ",\"d\":\"model-00002-of-00002.safetensors\"}"));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> HfCheckpoint.open(dir));
        assertEquals("d", e.tensor());
        assertEquals(dir.resolve("model-00002-of-00002.safetensors"), e.file());
        assertTrue(e.getMessage().contains("absent from it"), e.getMessage());
    }

    @Test
    void tensorInShardButNotOrElsewhereInTheIndex() throws IOException {
        sharded("{\"a\":\"model-00001-of-00002.safetensors\",\"c\":\"model-00002-of-00002.safetensors\"}");
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> HfCheckpoint.open(dir));
        assertEquals("b", e.tensor());
        assertTrue(e.getMessage().contains("not listed in model.safetensors.index.json"), e.getMessage());

        sharded(GOOD_MAP.replace("\"b\":\"model-00001", "\"b\":\"model-00002"));
        SafetensorsException e2 = assertThrows(SafetensorsException.class, () -> HfCheckpoint.open(dir));
        assertEquals("b", e2.tensor());
    }

    @Test
    void badIndexFiles() throws IOException {
        sharded("[]");
        assertTrue(assertThrows(SafetensorsException.class, () -> HfCheckpoint.open(dir)).getMessage().contains("no \"weight_map\" object"));
        sharded("{\"a\":\"../model-00001-of-00002.safetensors\"}");
        assertTrue(assertThrows(SafetensorsException.class, () -> HfCheckpoint.open(dir)).getMessage().contains("plain file name"));
        sharded("{\"a\":3}");
        assertTrue(assertThrows(SafetensorsException.class, () -> HfCheckpoint.open(dir)).getMessage().contains("must be a shard file name"));
        Files.writeString(dir.resolve(HfCheckpoint.INDEX_FILE), "{not json");
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> HfCheckpoint.open(dir));
        assertEquals(dir.resolve(HfCheckpoint.INDEX_FILE), e.file());
    }

    @Test
    void corruptShardIsNamed() throws IOException {
        sharded(GOOD_MAP);
        Path shard = dir.resolve("model-00002-of-00002.safetensors");
        byte[] b = Files.readAllBytes(shard);
        Files.write(shard, java.util.Arrays.copyOf(b, b.length - 1));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> HfCheckpoint.open(dir));
        assertEquals(shard, e.file());
    }

    @Test
    void directoryWithoutWeights() {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> HfCheckpoint.open(dir));
        assertTrue(e.getMessage().contains("no model.safetensors and no model.safetensors.index.json"), e.getMessage());
        assertThrows(SafetensorsException.class, () -> HfCheckpoint.open(dir.resolve("nope")));
    }
}
