package org.qoft4j.data.template;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The chat-template conformance cases: test-data/chat-templates/conversations.json (templates x conversations) and
 * the results Python's jinja2 gives for them (scripts/hf_chat_template.py), compared with this engine's.
 */
final class ChatTemplateCases {
    static final Path TEST_DATA = Path.of("..", "test-data").toAbsolutePath().normalize();
    static final Path CASES = TEST_DATA.resolve("chat-templates/conversations.json");
    static final Path EXPECTED = TEST_DATA.resolve("chat-templates/expected.json");
    static final Path TOKENIZERS = TEST_DATA.resolve("tokenizers");
    static final Path SCRIPT = TEST_DATA.getParent().resolve("scripts/hf_chat_template.py");

    private ChatTemplateCases() {
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> readJson(Path p) throws IOException {
        return new ObjectMapper().readValue(p.toFile(), LinkedHashMap.class);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> cases() throws IOException {
        return readJson(CASES);
    }

    @SuppressWarnings("unchecked")
    static List<String> templates(Map<String, Object> cases) {
        return (List<String>) cases.get("templates");
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> conversations(Map<String, Object> cases) {
        return (List<Map<String, Object>>) cases.get("conversations");
    }

    static Clock clock(Map<String, Object> cases) {
        return Clock.fixed(LocalDateTime.parse((String) cases.get("now")).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);
    }

    static ChatTemplateRenderer renderer(String template, Clock clock) throws IOException {
        return ChatTemplateRenderer.fromTokenizerConfig(TOKENIZERS.resolve(template).resolve("tokenizer_config.json")).withClock(clock);
    }

    static String render(ChatTemplateRenderer r, Map<String, Object> conv) {
        return renderWithSpans(r, conv).text();
    }

    @SuppressWarnings("unchecked")
    static JinjaTemplate.Rendered renderWithSpans(ChatTemplateRenderer r, Map<String, Object> conv) {
        ChatTemplateRenderer.Options o = ChatTemplateRenderer.Options.create()
                .tools((List<?>) conv.get("tools"))
                .documents((List<?>) conv.get("documents"))
                .addGenerationPrompt(Boolean.TRUE.equals(conv.get("add_generation_prompt")))
                .continueFinalMessage(Boolean.TRUE.equals(conv.get("continue_final_message")))
                .kwargs((Map<String, ?>) conv.get("kwargs"));
        return r.renderWithSpans((List<Map<String, Object>>) conv.get("messages"), o);
    }

    /** A UTF-16 offset into the uncut rendered text as a code point offset (Python's str index). */
    private static int codePoints(ChatTemplateRenderer r, Map<String, Object> conv, int charOffset) {
        String full = uncutText(r, conv);
        return full.codePointCount(0, Math.min(charOffset, full.length())) + Math.max(0, charOffset - full.length());
    }

    private static String uncutText(ChatTemplateRenderer r, Map<String, Object> conv) {
        if (!Boolean.TRUE.equals(conv.get("continue_final_message"))) return render(r, conv);
        Map<String, Object> c = new LinkedHashMap<>(conv);
        c.remove("continue_final_message");
        @SuppressWarnings("unchecked") List<Map<String, Object>> msgs = new java.util.ArrayList<>((List<Map<String, Object>>) conv.get("messages"));
        Map<String, Object> last = new LinkedHashMap<>(msgs.get(msgs.size() - 1));
        if (last.get("content") instanceof String s) last.put("content", s + ChatTemplateRenderer.CONTINUE_TAG);
        msgs.set(msgs.size() - 1, last);
        c.put("messages", msgs);
        return render(r, c);
    }

    /** Asserts this engine gives the expected result: the same text, or the same failure (raise_exception: the same message). */
    static void check(ChatTemplateRenderer r, Map<String, Object> conv, Map<String, Object> expected, String label) {
        if (expected.containsKey("text")) {
            JinjaTemplate.Rendered got;
            try {
                got = renderWithSpans(r, conv);
            } catch (RuntimeException e) {
                throw new AssertionError(label + ": jinja2 renders it, this engine failed: " + e, e);
            }
            assertEquals(expected.get("text"), got.text(), label);
            // {% generation %} spans, in Python's code point offsets (jinja2 renders the uncut text; so do we)
            String uncut = got.text();
            List<List<Integer>> spans = new java.util.ArrayList<>();
            for (int[] s : got.generationSpans()) spans.add(List.of(codePoints(r, conv, s[0]), codePoints(r, conv, s[1])));
            assertEquals(expected.getOrDefault("generation", List.of()), spans, label + ": generation spans");
            return;
        }
        String type = (String) expected.get("error");
        String message = (String) expected.get("message");
        if (type.equals("ValueError") && message.startsWith("continue_final_message")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> render(r, conv), label);
            assertTrue(e.getMessage().startsWith(message.substring(0, 40)), label + ": " + e.getMessage());
            return;
        }
        try {
            String got = render(r, conv);
            fail(label + ": jinja2 raised " + type + " (" + message + "), this engine rendered:\n" + got);
        } catch (RaisedException e) {
            assertEquals("TemplateError", type, label + ": raise_exception here, " + type + " in jinja2: " + message);
            assertEquals(message, e.getMessage(), label + ": the template's own message");
        } catch (TemplateException e) {
            assertEquals(type, e.pythonType(), label + ": " + e.getMessage() + " vs jinja2's " + message);
            assertEquals(message, e.detail(), label);
        }
    }
}
