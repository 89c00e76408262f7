package org.qoft4j.core;

import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.qoft4j.core.AtomicFiles;

/** JSON files of a Hugging Face model directory, laid out as Python's {@code json.dumps(indent=2)} lays them out, written atomically. */
public final class HfJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private HfJson() {}

    /** {@code json.dumps(node, indent=2) + "\n"}: two-space indent, {@code "key": value}, one array element per line. */
    public static String pretty(JsonNode node) {
        DefaultIndenter two = new DefaultIndenter("  ", "\n");
        DefaultPrettyPrinter pp = new DefaultPrettyPrinter()
                .withSeparators(Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER))
                .withObjectIndenter(two);
        pp.indentArraysWith(two);
        try {
            return JSON.writer(pp).writeValueAsString(node) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static void write(Path file, JsonNode node) {
        AtomicFiles.write(file, pretty(node).getBytes(StandardCharsets.UTF_8));
    }
}
