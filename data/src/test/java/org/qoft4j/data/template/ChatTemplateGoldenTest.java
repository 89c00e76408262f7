package org.qoft4j.data.template;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every template in test-data/tokenizers x every conversation in test-data/chat-templates/conversations.json renders
 * byte for byte as Python's jinja2 rendered it (expected.json, written by scripts/hf_chat_template.py; see
 * test-data/chat-templates/README.md), or fails where jinja2 failed, with the template's own message.
 */
class ChatTemplateGoldenTest {
    @TestFactory
    Stream<DynamicTest> everyTemplateAndConversationMatchesJinja2() throws Exception {
        Map<String, Object> cases = ChatTemplateCases.cases();
        @SuppressWarnings("unchecked") Map<String, Map<String, Map<String, Object>>> expected =
                (Map<String, Map<String, Map<String, Object>>>) ChatTemplateCases.readJson(ChatTemplateCases.EXPECTED).get("results");
        Clock clock = ChatTemplateCases.clock(cases);
        List<DynamicTest> tests = new ArrayList<>();
        for (String t : ChatTemplateCases.templates(cases)) {
            ChatTemplateRenderer r = ChatTemplateCases.renderer(t, clock);
            for (Map<String, Object> conv : ChatTemplateCases.conversations(cases)) {
                String id = (String) conv.get("id");
                Map<String, Object> exp = expected.get(t).get(id);
                tests.add(DynamicTest.dynamicTest(t + " / " + id, () -> ChatTemplateCases.check(r, conv, exp, t + " / " + id)));
            }
        }
        return tests.stream();
    }

    /** The committed expectations cover every template with at least 8 rendered conversations (the bar). */
    @Test
    void expectationsCoverEveryTemplateWithEightRenderedConversations() throws Exception {
        Map<String, Object> cases = ChatTemplateCases.cases();
        @SuppressWarnings("unchecked") Map<String, Map<String, Map<String, Object>>> expected =
                (Map<String, Map<String, Map<String, Object>>>) ChatTemplateCases.readJson(ChatTemplateCases.EXPECTED).get("results");
        assertEquals(ChatTemplateCases.templates(cases).size(), expected.size());
        for (String t : ChatTemplateCases.templates(cases)) {
            long rendered = expected.get(t).values().stream().filter(v -> v.containsKey("text")).count();
            assertTrue(rendered >= 8, t + " renders only " + rendered + " conversations");
            assertEquals(ChatTemplateCases.conversations(cases).size(), expected.get(t).size(), t);
        }
    }
}
