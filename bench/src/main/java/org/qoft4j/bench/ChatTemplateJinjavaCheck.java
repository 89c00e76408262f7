package org.qoft4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.qoft4j.data.tokenizer.ChatMessage;

/**
 * How the Jinjava renderer (qoft4j's former renderer, JinjavaChatTemplate) does on the chat-template conformance cases that it can express
 * (role/content messages only: no tools, no kwargs, no continue_final_message): per template, how many match Python
 * jinja2's expected output. Prints a table; run from the repository root:
 * {@code java -cp "bench/target/classes:$(cat bench/target/runtime-classpath.txt)" org.qoft4j.bench.ChatTemplateJinjavaCheck}
 * (the classpath file is what bench/jmh writes).
 */
public final class ChatTemplateJinjavaCheck {
    private ChatTemplateJinjavaCheck() {
    }

    @SuppressWarnings("unchecked")
    public static void main(String[] args) throws Exception {
        Path td = ChatTemplateBench.Fixture.testData();
        ObjectMapper om = new ObjectMapper();
        Map<String, Object> cases = om.readValue(td.resolve("chat-templates/conversations.json").toFile(), LinkedHashMap.class);
        Map<String, Map<String, Map<String, Object>>> expected =
                (Map<String, Map<String, Map<String, Object>>>) om.readValue(td.resolve("chat-templates/expected.json").toFile(), LinkedHashMap.class).get("results");
        System.out.printf("%-28s %8s %8s %8s %s%n", "template", "cases", "match", "differ", "fails (first error)");
        for (String t : (List<String>) cases.get("templates")) {
            Map<String, Object> cfg = om.readValue(td.resolve("tokenizers/" + t + "/tokenizer_config.json").toFile(), LinkedHashMap.class);
            Map<String, String> tokens = new HashMap<>();
            for (String k : List.of("bos_token", "eos_token", "unk_token", "pad_token"))
                if (cfg.get(k) instanceof String s) tokens.put(k, s);
            JinjavaChatTemplate jj = new JinjavaChatTemplate((String) cfg.get("chat_template"), tokens);
            int n = 0, match = 0, differ = 0, fail = 0;
            String firstError = "";
            for (Map<String, Object> conv : (List<Map<String, Object>>) cases.get("conversations")) {
                if (conv.get("tools") != null || conv.get("kwargs") != null || conv.get("documents") != null || conv.get("continue_final_message") != null) continue;
                List<ChatMessage> msgs = new ArrayList<>();
                boolean plain = true;
                for (Map<String, Object> m : (List<Map<String, Object>>) conv.get("messages")) {
                    if (m.size() != 2 || !(m.get("content") instanceof String c)) {
                        plain = false;
                        break;
                    }
                    msgs.add(new ChatMessage((String) m.get("role"), c));
                }
                if (!plain) continue;
                Map<String, Object> exp = expected.get(t).get((String) conv.get("id"));
                n++;
                try {
                    String got = jj.render(msgs, Boolean.TRUE.equals(conv.get("add_generation_prompt")));
                    if (exp.containsKey("text") && exp.get("text").equals(got)) match++;
                    else differ++;
                } catch (RuntimeException e) {
                    if (exp.containsKey("error") && String.valueOf(e.getMessage()).contains((String) exp.get("message"))) match++;
                    else {
                        fail++;
                        if (firstError.isEmpty()) firstError = String.valueOf(e.getMessage());
                    }
                }
            }
            System.out.printf("%-28s %8d %8d %8d %d %s%n", t, n, match, differ, fail, firstError.length() > 90 ? firstError.substring(0, 90) + "..." : firstError);
        }
    }
}
