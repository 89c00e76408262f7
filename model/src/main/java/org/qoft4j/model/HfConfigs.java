package org.qoft4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.qoft4j.quant.hf.QuantizationConfig;

/** Small reads of a model directory's config.json beyond {@link LlamaConfig}. */
final class HfConfigs {
    private static final ObjectMapper JSON = new ObjectMapper();

    private HfConfigs() {}

    /** config.json's {@code quantization_config} (bitsandbytes 4-bit or GPTQ), or null; anything else is a clear error. */
    static QuantizationConfig quantizationConfig(Path dir) {
        Path f = dir.resolve("config.json");
        try {
            return QuantizationConfig.fromModelConfig(JSON.readTree(Files.readString(f)));
        } catch (IOException e) {
            throw new ModelFormatException(f + ": cannot read: " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(f + ": " + e.getMessage(), e);
        }
    }
}
