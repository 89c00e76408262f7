package org.qoft4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.qoft4j.data.template.ChatTemplateRenderer;

/**
 * The scored spans of every template in test-data/tokenizers, on the dataset records of
 * test-data/chat-templates/span-records.jsonl (chat, tool calls, ShareGPT with function_call / observation,
 * reasoning_content, inline think blocks, enable_thinking=false). The records mark their text: user, system and tool
 * text carries {@code USER-}, {@code SYS-}, {@code TOOL-RESULT}; assistant text {@code ANSWER-}, {@code CITY-ARG}
 * (a tool-call argument) and {@code REASON-}. Wherever a template renders a marker, assistant markers must lie inside
 * a scored span and the others outside; every span must end the turn (contain an end-of-turn token, so the model
 * learns to stop); no rendering may start with two BOS. The spans are written, marked «like this», to
 * {@code target/scored-spans.md} with the method each template needed.
 */
class AssistantSpansTemplatesTest {
    static final Path TEST_DATA = Path.of("..", "test-data").toAbsolutePath().normalize();
    static final Path RECORDS = TEST_DATA.resolve("chat-templates/span-records.jsonl");
    static final List<String> ASSISTANT_MARKS = List.of("ANSWER-", "CITY-ARG", "REASON-");
    static final List<String> OTHER_MARKS = List.of("USER-", "SYS-", "TOOL-RESULT");
    static final List<String> END_OF_TURN = List.of("<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<end_of_turn>", "</s>", "<|end|>",
            "<｜end▁of▁sentence｜>", "<|endoftext|>");
    private static final Map<String, StringBuilder> REPORT = new TreeMap<>();

    static List<JsonNode> records() throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(RECORDS, StandardCharsets.UTF_8)) if (!line.isBlank()) out.add(json.readTree(line));
        return out;
    }

    static ChatRecord chatRecord(JsonNode r) {
        return r.has("conversations") ? ChatRecord.fromShareGpt(r) : ChatRecord.fromMessages(r);
    }

    static ChatTemplateRenderer.Options options(ChatRecord c) {
        ChatTemplateRenderer.Options o = ChatTemplateRenderer.Options.create().tools(c.tools()).documents(c.documents());
        return o.applyKwargs(c.kwargs());
    }

    @Test
    void everyTemplateScoresExactlyTheAssistantText() throws IOException {
        List<JsonNode> records = records();
        Clock clock = Clock.fixed(Instant.parse("2026-12-06T10:00:00Z"), ZoneOffset.UTC);
        List<String> templates;
        try (var s = Files.list(TEST_DATA.resolve("tokenizers"))) {
            templates = s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertTrue(templates.size() >= 14, "the templates of phase 1: " + templates);
        for (String t : templates) {
            Path cfg = TEST_DATA.resolve("tokenizers").resolve(t).resolve("tokenizer_config.json");
            ChatTemplateRenderer renderer = ChatTemplateRenderer.fromTokenizerConfig(cfg).withClock(clock);
            String bos = (String) renderer.specialTokens().get("bos_token");
            StringBuilder report = REPORT.computeIfAbsent(t, k -> new StringBuilder());
            int checked = 0;
            List<String> bosFirst = new ArrayList<>();
            for (JsonNode r : records) {
                String id = r.get("id").asText();
                ChatRecord c = chatRecord(r);
                AssistantSpans.Result res;
                try {
                    res = AssistantSpans.find(renderer, c.messages(), options(c));
                } catch (RuntimeException e) {
                    report.append("- `").append(id).append("`: the template refuses it: ").append(e.getMessage().lines().findFirst().orElse("")).append('\n');
                    continue;
                }
                checked++;
                String where = t + " / " + id;
                checkMarks(res, where);
                for (int[] sp : res.spans()) {
                    String span = res.text().substring(sp[0], sp[1]);
                    assertTrue(END_OF_TURN.stream().anyMatch(span::contains), where + ": a scored span without an end-of-turn token: [" + span + "]");
                    assertTrue(span.lastIndexOf('<') <= span.lastIndexOf('>'), where + ": a span ends inside a <...> marker: [" + span + "]");
                }
                if (bos != null) {
                    // (SmolLM2's bos_token is <|im_start|>, which opens every turn: so no count, only no BOS right after a BOS)
                    assertFalse(res.text().contains(bos + bos), where + ": two BOS in a row");
                    if (res.text().startsWith(bos)) bosFirst.add(t);
                }
                report.append("- `").append(id).append("` (").append(res.method()).append("):\n\n```\n").append(marked(res)).append("\n```\n");
            }
            assertTrue(checked >= 5, t + ": only " + checked + " of " + records.size() + " records render:\n" + report);
        }
    }

    /** Assistant markers inside spans, all others outside; at least one span when an answer is rendered. */
    static void checkMarks(AssistantSpans.Result res, String where) {
        String text = res.text();
        for (String m : ASSISTANT_MARKS)
            for (int at : occurrences(text, m))
                assertTrue(inSpan(res.spans(), at), where + ": assistant text '" + m + "' at " + at + " is not scored:\n" + marked(res));
        for (String m : OTHER_MARKS)
            for (int at : occurrences(text, m))
                assertFalse(inSpan(res.spans(), at), where + ": '" + m + "' at " + at + " is scored:\n" + marked(res));
        if (!occurrences(text, "ANSWER-").isEmpty()) assertFalse(res.spans().isEmpty(), where);
    }

    static boolean inSpan(List<int[]> spans, int at) {
        return spans.stream().anyMatch(s -> s[0] <= at && at < s[1]);
    }

    static List<Integer> occurrences(String text, String m) {
        List<Integer> out = new ArrayList<>();
        Matcher x = Pattern.compile(Pattern.quote(m)).matcher(text);
        while (x.find()) out.add(x.start());
        return out;
    }

    /** The text with «» around scored spans. */
    static String marked(AssistantSpans.Result res) {
        StringBuilder sb = new StringBuilder(res.text());
        for (int i = res.spans().size() - 1; i >= 0; i--) {
            sb.insert(res.spans().get(i)[1], '»');
            sb.insert(res.spans().get(i)[0], '«');
        }
        return sb.toString();
    }

    @AfterAll
    static void writeReport() throws IOException {
        StringBuilder sb = new StringBuilder("# Scored spans per template (AssistantSpansTemplatesTest)\n\n«» marks what completion-only training scores.\n");
        REPORT.forEach((t, r) -> sb.append("\n## ").append(t).append("\n\n").append(r));
        Path out = Path.of("target", "scored-spans.md");
        Files.createDirectories(out.getParent());
        Files.writeString(out, sb.toString(), StandardCharsets.UTF_8);
    }

    /** The method each template needs for the multi-turn record, as the docs state it. */
    @Test
    void methodPerTemplate() throws IOException {
        JsonNode multi = records().stream().filter(r -> r.get("id").asText().equals("multiturn_plain")).findFirst().orElseThrow();
        Map<String, AssistantSpans.Method> want = new LinkedHashMap<>();
        want.put("phi4_reasoning", AssistantSpans.Method.GENERATION_BLOCKS);
        want.put("qwen3", AssistantSpans.Method.FULL_RENDER_DIFF);   // turns before the last user message lose their think block
        want.put("qwen2_5", AssistantSpans.Method.PREFIXES);
        want.put("llama3_1", AssistantSpans.Method.PREFIXES);
        want.put("gemma3", AssistantSpans.Method.PREFIXES);
        for (Map.Entry<String, AssistantSpans.Method> e : want.entrySet()) {
            ChatTemplateRenderer r = ChatTemplateRenderer.fromTokenizerConfig(TEST_DATA.resolve("tokenizers").resolve(e.getKey()).resolve("tokenizer_config.json"));
            ChatRecord c = chatRecord(multi);
            assertEquals(e.getValue(), AssistantSpans.find(r, c.messages(), options(c)).method(), e.getKey());
        }
        if (want.isEmpty()) fail();
    }
}
