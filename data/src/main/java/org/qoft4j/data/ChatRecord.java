package org.qoft4j.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One chat record as the chat template sees it: the messages (maps of plain values, every field kept:
 * {@code tool_calls}, {@code tool_call_id}, {@code name}, {@code reasoning_content}, content blocks, ...), the
 * record's {@code tools} and {@code documents}, and its {@code chat_template_kwargs}. Read from either form:
 * <ul>
 * <li>{@code {"messages": [{"role", "content"?, ...}], "tools"?, "documents"?, "system"?, "chat_template_kwargs"?}}
 * (OpenAI / transformers);</li>
 * <li>ShareGPT {@code {"conversations": [{"from", "value"}], "system"?, "tools"?}}, as LLaMA-Factory and Axolotl read
 * it: {@code human}/{@code user} -> user, {@code gpt}/{@code assistant} -> assistant, {@code system} -> system (first
 * message only, as LLaMA-Factory), {@code function_call} -> an assistant message whose {@code tool_calls} are the
 * value's JSON ({@code {"name", "arguments"}} or a list of them, LLaMA-Factory's parallel calls), {@code observation}
 * / {@code tool} -> a tool message.</li>
 * </ul>
 * {@code tools} may be a list or a JSON string of one (as in LLaMA-Factory's and Axolotl's datasets); a bare function
 * schema ({@code {"name", "description", "parameters"}}) is wrapped as {@code {"type": "function", "function": ...}},
 * the form transformers passes to templates. A record-level {@code system} string becomes a leading system message
 * unless the conversation starts with one (both tools do this). Anything malformed is an IllegalArgumentException
 * saying what was expected.
 */
public record ChatRecord(List<Map<String, Object>> messages, List<Object> tools, List<Object> documents, Map<String, Object> kwargs) {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, String> SHAREGPT_ROLES = Map.of("human", "user", "user", "user", "gpt", "assistant", "assistant", "assistant",
            "system", "system", "function_call", "assistant", "observation", "tool", "tool", "tool");

    /** A {@code messages} record. */
    public static ChatRecord fromMessages(JsonNode o) {
        JsonNode a = o.get("messages");
        if (!a.isArray() || a.isEmpty()) throw new IllegalArgumentException("expected \"messages\" to be a non-empty array of {\"role\", \"content\"}");
        List<Map<String, Object>> ms = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            JsonNode m = a.get(i);
            if (!m.isObject() || !m.path("role").isTextual())
                throw new IllegalArgumentException("messages[" + i + "] must be an object with a string \"role\", got " + m);
            JsonNode c = m.get("content");
            boolean toolCalls = m.path("tool_calls").isArray() && !m.get("tool_calls").isEmpty();
            if (!(c != null && (c.isTextual() || c.isArray())) && !(toolCalls && (c == null || c.isNull())))
                throw new IllegalArgumentException("messages[" + i + "] (" + m.get("role").asText() + ") needs \"content\": a string or a list of content "
                        + "blocks (null only beside \"tool_calls\"), got " + (c == null ? "none" : c));
            ms.add(plainMap(m));
        }
        return build(o, ms);
    }

    /** A ShareGPT {@code conversations} record. */
    public static ChatRecord fromShareGpt(JsonNode o) {
        JsonNode a = o.get("conversations");
        if (!a.isArray() || a.isEmpty())
            throw new IllegalArgumentException("expected \"conversations\" to be a non-empty array of {\"from\", \"value\"}");
        List<Map<String, Object>> ms = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            JsonNode m = a.get(i);
            String where = "conversations[" + i + "]";
            if (!m.isObject() || !m.path("from").isTextual() || !m.path("value").isTextual())
                throw new IllegalArgumentException(where + " must be an object with string \"from\" and \"value\", got " + m);
            String from = m.get("from").asText(), value = m.get("value").asText();
            String role = SHAREGPT_ROLES.get(from);
            if (role == null)
                throw new IllegalArgumentException(where + ": unknown \"from\": '" + from + "' (expected human, gpt, system, function_call, observation; "
                        + "or user, assistant, tool)");
            if (role.equals("system") && i > 0)
                throw new IllegalArgumentException(where + ": a system message must come first (as LLaMA-Factory reads ShareGPT)");
            Map<String, Object> msg = new LinkedHashMap<>();
            msg.put("role", role);
            if (from.equals("function_call")) {
                msg.put("content", "");
                msg.put("tool_calls", toolCalls(where, value));
            } else {
                msg.put("content", value);
            }
            ms.add(msg);
        }
        return build(o, ms);
    }

    /** LLaMA-Factory's function_call value: {@code {"name", "arguments"}} or a list of them, as transformers' tool_calls. */
    private static List<Object> toolCalls(String where, String value) {
        JsonNode v;
        try {
            v = JSON.readTree(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(where + ": a function_call value must be JSON {\"name\": ..., \"arguments\": {...}} (or a list), got "
                    + abbreviate(value));
        }
        List<Object> calls = new ArrayList<>();
        for (JsonNode c : v.isArray() ? v : JSON.createArrayNode().add(v)) {
            if (!c.isObject() || !c.path("name").isTextual() || !c.has("arguments"))
                throw new IllegalArgumentException(where + ": each function call needs \"name\" and \"arguments\", got " + c);
            Map<String, Object> fn = new LinkedHashMap<>();
            fn.put("name", c.get("name").asText());
            fn.put("arguments", plain(c.get("arguments")));
            Map<String, Object> call = new LinkedHashMap<>();
            call.put("type", "function");
            call.put("function", fn);
            calls.add(call);
        }
        return calls;
    }

    private static ChatRecord build(JsonNode o, List<Map<String, Object>> ms) {
        JsonNode sys = o.get("system");
        if (sys != null && !sys.isNull()) {
            if (!sys.isTextual()) throw new IllegalArgumentException("expected \"system\" to be a string, got " + sys);
            if (!sys.asText().isEmpty() && !"system".equals(ms.get(0).get("role"))) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("role", "system");
                m.put("content", sys.asText());
                ms.add(0, m);
            }
        }
        List<Object> tools = list(o, "tools");
        if (tools != null) tools.replaceAll(ChatRecord::wrapFunction);
        JsonNode kw = o.get("chat_template_kwargs");
        Map<String, Object> kwargs = new LinkedHashMap<>();
        if (kw != null && !kw.isNull()) {
            if (!kw.isObject()) throw new IllegalArgumentException("expected \"chat_template_kwargs\" to be an object of template variables, got " + kw);
            kwargs.putAll(plainMap(kw));
        }
        return new ChatRecord(ms, tools, list(o, "documents"), kwargs);
    }

    /** A list field, or a JSON string holding one; null when absent, null or empty. */
    private static List<Object> list(JsonNode o, String key) {
        JsonNode n = o.get(key);
        if (n == null || n.isNull() || (n.isTextual() && n.asText().isBlank())) return null;
        if (n.isTextual()) {
            try {
                n = JSON.readTree(n.asText());
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException("\"" + key + "\" is a string but not JSON (" + e.getOriginalMessage() + ")");
            }
        }
        if (!n.isArray()) throw new IllegalArgumentException("expected \"" + key + "\" to be a list (or a JSON string of one), got " + abbreviate(n.toString()));
        if (n.isEmpty()) return null;
        @SuppressWarnings("unchecked") List<Object> l = (List<Object>) plain(n);
        return l;
    }

    private static Object wrapFunction(Object tool) {
        if (tool instanceof Map<?, ?> m && !m.containsKey("function") && m.containsKey("name") && !"function".equals(m.get("type"))) {
            Map<String, Object> w = new LinkedHashMap<>();
            w.put("type", "function");
            w.put("function", tool);
            return w;
        }
        return tool;
    }

    private static Map<String, Object> plainMap(JsonNode n) {
        @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) plain(n);
        return m;
    }

    /** JSON as plain values: LinkedHashMap (key order kept), ArrayList, String, Integer/Long/Double/BigInteger, Boolean, null. */
    static Object plain(JsonNode n) {
        return JSON.convertValue(n, Object.class);
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }
}
