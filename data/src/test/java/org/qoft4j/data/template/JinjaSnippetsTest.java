package org.qoft4j.data.template;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Jinja2 semantics one at a time (test-data/chat-templates/snippets.json: whitespace control, scoping, literals,
 * operators, slices, filters, tests, Python methods, sandbox and error cases): each renders as Python's jinja2
 * rendered it in transformers' environment (snippets-expected.json), or fails with the same exception type and
 * message.
 */
class JinjaSnippetsTest {
    static final Path SNIPPETS = ChatTemplateCases.TEST_DATA.resolve("chat-templates/snippets.json");
    static final Path EXPECTED = ChatTemplateCases.TEST_DATA.resolve("chat-templates/snippets-expected.json");

    @TestFactory
    Stream<DynamicTest> snippetsMatchJinja2() throws Exception {
        @SuppressWarnings("unchecked") Map<String, Map<String, Object>> expected =
                (Map<String, Map<String, Object>>) ChatTemplateCases.readJson(EXPECTED).get("results");
        return tests(expected).stream();
    }

    /** One dynamic test per snippet, checked against the given jinja2 results. */
    static List<DynamicTest> tests(Map<String, Map<String, Object>> expected) throws Exception {
        Map<String, Object> doc = ChatTemplateCases.readJson(SNIPPETS);
        Clock clock = Clock.fixed(LocalDateTime.parse((String) doc.get("now")).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);
        @SuppressWarnings("unchecked") List<Map<String, Object>> snippets = (List<Map<String, Object>>) doc.get("snippets");
        List<DynamicTest> tests = new ArrayList<>();
        for (Map<String, Object> sn : snippets) {
            String id = (String) sn.get("id");
            tests.add(DynamicTest.dynamicTest(id, () -> check(sn, expected.get(id), clock)));
        }
        return tests;
    }

    @SuppressWarnings("unchecked")
    static void check(Map<String, Object> sn, Map<String, Object> exp, Clock clock) {
        String id = (String) sn.get("id");
        Map<String, Object> ctx = (Map<String, Object>) sn.getOrDefault("context", Map.of());
        if (exp.containsKey("text")) {
            String got;
            try {
                got = JinjaTemplate.compile((String) sn.get("template")).render(ctx, clock);
            } catch (TemplateException e) {
                throw new AssertionError(id + ": jinja2 renders it, this engine failed: " + e.getMessage(), e);
            }
            assertEquals(exp.get("text"), got, id);
            return;
        }
        try {
            String got = JinjaTemplate.compile((String) sn.get("template")).render(ctx, clock);
            fail(id + ": jinja2 raised " + exp.get("error") + " (" + exp.get("message") + "), this engine rendered: " + got);
        } catch (TemplateException e) {
            assertEquals(exp.get("error"), e.pythonType(), id + ": " + e.getMessage());
            if (!"TemplateSyntaxError".equals(exp.get("error"))) assertEquals(exp.get("message"), e.detail(), id);
        }
    }
}
