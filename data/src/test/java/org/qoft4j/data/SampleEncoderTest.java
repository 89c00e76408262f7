package org.qoft4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.qoft4j.data.tokenizer.TestTokenizers.ids;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.data.tokenizer.TestTokenizers;
import org.qoft4j.data.tokenizer.TextTokenizer;

/** Labels are -100 exactly on prompt / non-assistant tokens. */
class SampleEncoderTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final long I = Sample.IGNORE;
    static final int IMS = 260, IME = 261; // Qwen-style test tokenizer

    static JsonNode json(String s) throws IOException {
        return JSON.readTree(s);
    }

    /** labels must equal ids where {@code scored[i]} and be -100 elsewhere. */
    static void assertMask(Sample s, long[] wantIds, int scoredFrom, int scoredTo) {
        assertArrayEquals(wantIds, s.inputIds());
        for (int i = 0; i < wantIds.length; i++) {
            boolean scored = i >= scoredFrom && i < scoredTo;
            assertEquals(scored ? wantIds[i] : I, s.labels()[i], "label " + i + " of " + Arrays.toString(s.labels()));
        }
    }

    @Test
    void textIsFullyScoredWithBosAndEos(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.llama3(dir))) {
            Sample s = new SampleEncoder(t, false, 0).encode(json("{\"text\": \"hi us\"}"));
            assertArrayEquals(ids(259, "hi", 32, 256, 263), s.inputIds());
            assertArrayEquals(s.inputIds(), s.labels());
        }
    }

    @Test
    void alpacaWithoutTemplateMasksThePromptExactly(@TempDir Path dir) throws IOException {
        TestTokenizers.write(dir, List.of("<s>", "</s>"), true, Map.of("bos_token", "<s>", "eos_token", "</s>"));
        try (TextTokenizer t = TextTokenizer.load(dir)) {
            Sample s = new SampleEncoder(t, false, 0).encode(json("{\"instruction\": \"Add\", \"input\": \"2 2\", \"output\": \"4\"}"));
            long[] prompt = t.encode(String.format(SampleEncoder.ALPACA_WITH_INPUT, "Add", "2 2"));
            assertEquals(259, prompt[0], "the prompt starts with BOS");
            long[] want = ids(prompt, "4", 260);
            assertMask(s, want, prompt.length, want.length);

            Sample noInput = new SampleEncoder(t, false, 0).encode(json("{\"instruction\": \"Say x\", \"output\": \"x\"}"));
            long[] p2 = t.encode(String.format(SampleEncoder.ALPACA_NO_INPUT, "Say x"));
            assertMask(noInput, ids(p2, "x", 260), p2.length, p2.length + 2);

            Sample all = new SampleEncoder(t, true, 0).encode(json("{\"instruction\": \"Add\", \"input\": \"2 2\", \"output\": \"4\"}"));
            assertArrayEquals(all.inputIds(), all.labels(), "trainOnPrompt scores everything");
        }
    }

    @Test
    void chatScoresExactlyTheAssistantTurns(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.qwen(dir))) {
            Sample s = new SampleEncoder(t, false, 0).encode(json("{\"messages\": [{\"role\": \"system\", \"content\": \"S\"},"
                    + "{\"role\": \"user\", \"content\": \"Q1\"}, {\"role\": \"assistant\", \"content\": \"A1\"},"
                    + "{\"role\": \"user\", \"content\": \"Q2\"}, {\"role\": \"assistant\", \"content\": \"A2\"}]}"));
            long[] head = ids(IMS, "system\nS", IME, "\n", IMS, 257, "r\nQ1", IME, "\n", IMS, "assistant\n");
            long[] a1 = ids("A1", IME, "\n");
            long[] mid = ids(IMS, 257, "r\nQ2", IME, "\n", IMS, "assistant\n");
            long[] a2 = ids("A2", IME, "\n");
            long[] want = ids(head, a1, mid, a2);
            assertArrayEquals(want, s.inputIds());
            long[] labels = new long[want.length];
            Arrays.fill(labels, I);
            System.arraycopy(a1, 0, labels, head.length, a1.length);
            System.arraycopy(a2, 0, labels, head.length + a1.length + mid.length, a2.length);
            assertArrayEquals(labels, s.labels());
            assertArrayEquals(t.encodeChat(List.of(
                    new org.qoft4j.data.tokenizer.ChatMessage("system", "S"), org.qoft4j.data.tokenizer.ChatMessage.user("Q1"),
                    org.qoft4j.data.tokenizer.ChatMessage.assistant("A1"), org.qoft4j.data.tokenizer.ChatMessage.user("Q2"),
                    org.qoft4j.data.tokenizer.ChatMessage.assistant("A2")), false), s.inputIds(), "same ids as tokenizing the whole rendering");
        }
    }

    @Test
    void alpacaUsesTheChatTemplateWhenThereIsOne(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.qwen(dir))) {
            Sample s = new SampleEncoder(t, false, 0).encode(json("{\"instruction\": \"Q\", \"input\": \"x\", \"output\": \"A\"}"));
            String sys = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
            long[] prompt = ids(IMS, "system\n" + sys, IME, "\n", IMS, 257, "r\nQ\n\nx", IME, "\n", IMS, "assistant\n");
            long[] want = ids(prompt, "A", IME, "\n");
            assertMask(s, want, prompt.length, want.length);
        }
    }

    @Test
    void preTokenizedRecords() throws IOException {
        SampleEncoder e = new SampleEncoder(null, false, 100);
        assertEquals(new Sample(new long[] {1, 2, 3}, new long[] {1, 2, 3}), e.encode(json("{\"input_ids\": [1, 2, 3]}")));
        assertEquals(new Sample(new long[] {1, 2, 3}, new long[] {-100, 2, 3}), e.encode(json("{\"input_ids\": [1, 2, 3], \"labels\": [-100, 2, 3]}")));
        assertError(e, "{\"input_ids\": [1, 2], \"labels\": [1]}", "\"labels\" has 1 entries");
        assertError(e, "{\"input_ids\": [1, 2.5]}", "\"input_ids\"[1] is 2.5, expected an integer");
        assertError(e, "{\"input_ids\": [1, 100]}", "\"input_ids\"[1] = 100 is outside the vocabulary [0, 100)");
        assertError(e, "{\"input_ids\": []}", "is empty");
        assertError(e, "{\"text\": \"x\"}", "need a tokenizer");
        assertError(e, "{\"prompt\": \"x\"}", "found keys [prompt]");
    }

    @Test
    void malformedRecordsSayWhatWasExpected(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.qwen(dir))) {
            SampleEncoder e = new SampleEncoder(t, false, 0);
            assertError(e, "{\"text\": 3}", "expected \"text\" to be a string, got 3");
            assertError(e, "{\"instruction\": \"x\"}", "expected \"output\" to be a string");
            assertError(e, "{\"messages\": []}", "non-empty array");
            assertError(e, "{\"messages\": [{\"role\": \"user\"}]}", "messages[0] (user) needs \"content\"");
            assertError(e, "{\"messages\": [{\"content\": \"x\"}]}", "messages[0] must be an object with a string \"role\"");
            assertError(e, "[1, 2]", "expected a JSON object");
        }
    }

    static void assertError(SampleEncoder e, String json, String fragment) throws IOException {
        JsonNode n = json(json);
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> e.encode(n));
        assertTrue(ex.getMessage().contains(fragment), "'" + ex.getMessage() + "' should contain '" + fragment + "'");
    }
}
