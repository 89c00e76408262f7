package org.qoft4j.data.tokenizer;

import java.util.LinkedHashMap;
import java.util.Map;

/** One turn of a conversation, as chat templates see it ({@code message['role']}, {@code message['content']}). */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        if (role == null || role.isEmpty()) throw new IllegalArgumentException("a chat message needs a role");
        if (content == null) throw new IllegalArgumentException("a chat message needs content (role " + role + ")");
    }

    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }

    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    /** The message as a chat template sees it: {@code {"role": ..., "content": ...}}. */
    public Map<String, Object> asMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return m;
    }
}
