package org.qoft4j.data.template;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The same comparisons as the golden tests, against Python's jinja2 run now (scripts/hf_chat_template.py) instead of
 * the committed expectations, plus 40 seeded random conversations per template (random roles, text full of
 * braces, quotes, whitespace, unicode and think tags, random tool calls and flags). Skipped without python3+jinja2.
 */
class ChatTemplateLiveReferenceTest {
    @TestFactory
    Stream<DynamicTest> committedCasesMatchLiveJinja2() throws Exception {
        PythonReference.assumeAvailable();
        Map<String, Object> cases = ChatTemplateCases.cases();
        Map<String, Map<String, Map<String, Object>>> live = PythonReference.run(ChatTemplateCases.CASES.toString());
        return compare(cases, live).stream();
    }

    @TestFactory
    Stream<DynamicTest> snippetsMatchLiveJinja2() throws Exception {
        PythonReference.assumeAvailable();
        Map<String, Map<String, Object>> live = PythonReference.run("--snippets", JinjaSnippetsTest.SNIPPETS.toString());
        return JinjaSnippetsTest.tests(live).stream();
    }

    @TestFactory
    Stream<DynamicTest> randomConversationsMatchLiveJinja2() throws Exception {
        PythonReference.assumeAvailable();
        Map<String, Object> cases = new LinkedHashMap<>(ChatTemplateCases.cases());
        cases.put("conversations", randomConversations(new Random(20260115), 40));
        Path file = PythonReference.writeTemp(new ObjectMapper().writeValueAsString(cases));
        try {
            Map<String, Map<String, Map<String, Object>>> live = PythonReference.run(file.toString());
            return compare(cases, live).stream();
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static List<DynamicTest> compare(Map<String, Object> cases, Map<String, Map<String, Map<String, Object>>> live) throws Exception {
        Clock clock = ChatTemplateCases.clock(cases);
        List<DynamicTest> tests = new ArrayList<>();
        for (String t : ChatTemplateCases.templates(cases)) {
            ChatTemplateRenderer r = ChatTemplateCases.renderer(t, clock);
            for (Map<String, Object> conv : ChatTemplateCases.conversations(cases)) {
                String id = (String) conv.get("id");
                tests.add(DynamicTest.dynamicTest(t + " / " + id, () -> ChatTemplateCases.check(r, conv, live.get(t).get(id), t + " / " + id)));
            }
        }
        return tests;
    }

    private static final String[] PIECES = {"a", "Zürich", "你好", "🙂", " ", "  ", "\n", "\n\n", "\t", "{{", "}}", "{%", "%}", "{#", "#}", "'", "\"",
            "\\", "<think>", "</think>", "<tool_call>", "<|im_end|>", "[INST]", "- ", "%s", "{0}", "\u00a0", "\r\n", "x = 1", "7*7", "endif", "None"};

    private static String text(Random rnd) {
        StringBuilder sb = new StringBuilder();
        int n = rnd.nextInt(12);
        for (int i = 0; i < n; i++) sb.append(PIECES[rnd.nextInt(PIECES.length)]);
        return sb.toString();
    }

    static List<Map<String, Object>> randomConversations(Random rnd, int count) {
        List<Map<String, Object>> out = new ArrayList<>();
        Map<String, Object> tool = Map.of("type", "function", "function", Map.of("name", "lookup", "description", "Look " + "up {{x}}",
                "parameters", Map.of("type", "object", "properties", Map.of("q", Map.of("type", "string")), "required", List.of("q"))));
        for (int c = 0; c < count; c++) {
            List<Map<String, Object>> msgs = new ArrayList<>();
            if (rnd.nextInt(3) == 0) msgs.add(msg("system", text(rnd)));
            int turns = 1 + rnd.nextInt(4);
            boolean tools = rnd.nextInt(4) == 0;
            for (int i = 0; i < turns; i++) {
                msgs.add(msg(rnd.nextInt(10) == 0 ? "assistant" : "user", text(rnd)));
                if (i < turns - 1 || rnd.nextBoolean()) {
                    Map<String, Object> a = msg("assistant", text(rnd));
                    if (rnd.nextInt(5) == 0) a.put("reasoning_content", text(rnd));
                    if (tools && rnd.nextInt(2) == 0) {
                        a.put("tool_calls", List.of(Map.of("id", "abcDEF123", "type", "function",
                                "function", Map.of("name", "lookup", "arguments", Map.of("q", text(rnd), "n", rnd.nextInt(5), "f", 0.5 * rnd.nextInt(4))))));
                        msgs.add(a);
                        Map<String, Object> tr = msg("tool", text(rnd));
                        tr.put("tool_call_id", "abcDEF123");
                        msgs.add(tr);
                        msgs.add(msg("assistant", text(rnd)));
                    } else {
                        msgs.add(a);
                    }
                }
            }
            Map<String, Object> conv = new LinkedHashMap<>();
            conv.put("id", "random_" + c);
            conv.put("messages", msgs);
            boolean cont = rnd.nextInt(6) == 0 && msgs.get(msgs.size() - 1).get("role").equals("assistant");
            if (cont) conv.put("continue_final_message", true);
            else conv.put("add_generation_prompt", rnd.nextBoolean());
            if (tools) conv.put("tools", List.of(tool));
            Map<String, Object> kw = new LinkedHashMap<>();
            if (rnd.nextBoolean()) kw.put("enable_thinking", rnd.nextBoolean());
            if (rnd.nextBoolean()) kw.put("date_string", "0" + (1 + rnd.nextInt(9)) + " Mar 2025");
            conv.put("kwargs", kw);
            out.add(conv);
        }
        return out;
    }

    private static Map<String, Object> msg(String role, String content) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return m;
    }
}
