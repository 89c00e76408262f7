package org.qoft4j.trainer.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Small reads of a model directory's config.json beyond {@link LlamaConfig}. */
final class HfConfigs {
    private static final ObjectMapper JSON = new ObjectMapper();

    private HfConfigs() {}

    /** config.json's {@code quantization_config}, or null. */
    static JsonNode quantizationConfig(Path dir) {
        Path f = dir.resolve("config.json");
        try {
            JsonNode q = JSON.readTree(Files.readString(f)).get("quantization_config");
            return q == null || q.isNull() ? null : q;
        } catch (IOException e) {
            throw new ModelFormatException(f + ": cannot read: " + e.getMessage(), e);
        }
    }
}
