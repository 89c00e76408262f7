package org.qoft4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.qoft4j.data.template.ChatTemplateRenderer;
import org.qoft4j.data.tokenizer.ChatMessage;

/**
 * Rendering one conversation (test-data/chat-templates/conversations.json's "long_multiturn": 7 messages, generation
 * prompt) with a real chat template: the project's Jinja2 engine (org.qoft4j.data.template) against Jinjava
 * (qoft4j's former renderer, JinjavaChatTemplate), both with the template compiled once. Qwen3 and Llama 3.2 only for the engine: Jinjava
 * cannot render them. Run from the repository root: {@code bench/jmh JinjavaChatTemplate -f 1 -wi 3 -i 5}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ChatTemplateBench {

    @State(Scope.Benchmark)
    public static class Both {
        @Param({"llama3_1", "gemma3", "mistral_nemo", "smollm2"})
        public String template;
        ChatTemplateRenderer engine;
        JinjavaChatTemplate jinjava;
        List<Map<String, Object>> messages;
        List<ChatMessage> chatMessages;

        @Setup
        public void setUp() throws IOException {
            Fixture f = Fixture.load(template);
            engine = f.engine;
            jinjava = f.jinjava;
            messages = f.messages;
            chatMessages = f.chatMessages;
            String a = engine.render(messages, true), b = jinjava.render(chatMessages, true);
            if (!a.equals(b)) System.err.println("note: " + template + " renders differently in Jinjava");
        }
    }

    @State(Scope.Benchmark)
    public static class EngineOnly {
        @Param({"qwen3", "llama3_2"})
        public String template;
        ChatTemplateRenderer engine;
        List<Map<String, Object>> messages;

        @Setup
        public void setUp() throws IOException {
            Fixture f = Fixture.load(template);
            engine = f.engine;
            messages = f.messages;
        }
    }

    @Benchmark
    public String engine(Both s) {
        return s.engine.render(s.messages, true);
    }

    @Benchmark
    public String jinjava(Both s) {
        return s.jinjava.render(s.chatMessages, true);
    }

    @Benchmark
    public String engineOnly(EngineOnly s) {
        return s.engine.render(s.messages, true);
    }

    /** A template's renderers and the benchmark conversation, read from test-data. */
    static final class Fixture {
        ChatTemplateRenderer engine;
        JinjavaChatTemplate jinjava;
        List<Map<String, Object>> messages;
        List<ChatMessage> chatMessages;

        static Path testData() {
            for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent())
                if (Files.isDirectory(p.resolve("test-data/tokenizers"))) return p.resolve("test-data");
            throw new IllegalStateException("test-data/tokenizers not found above " + Path.of("").toAbsolutePath() + "; run from the repository");
        }

        @SuppressWarnings("unchecked")
        static Fixture load(String template) throws IOException {
            Path td = testData();
            ObjectMapper om = new ObjectMapper();
            Map<String, Object> cfg = om.readValue(td.resolve("tokenizers/" + template + "/tokenizer_config.json").toFile(), LinkedHashMap.class);
            Map<String, Object> cases = om.readValue(td.resolve("chat-templates/conversations.json").toFile(), LinkedHashMap.class);
            Fixture f = new Fixture();
            for (Map<String, Object> c : (List<Map<String, Object>>) cases.get("conversations"))
                if (c.get("id").equals("long_multiturn")) f.messages = (List<Map<String, Object>>) c.get("messages");
            f.engine = ChatTemplateRenderer.fromTokenizerConfig(cfg);
            Map<String, String> tokens = new HashMap<>();
            for (String k : List.of("bos_token", "eos_token", "unk_token", "pad_token"))
                if (cfg.get(k) instanceof String s) tokens.put(k, s);
                else if (cfg.get(k) instanceof Map<?, ?> m && m.get("content") instanceof String s) tokens.put(k, s);
            if (cfg.get("chat_template") instanceof String src) f.jinjava = new JinjavaChatTemplate(src, tokens);
            f.chatMessages = new ArrayList<>();
            for (Map<String, Object> m : f.messages) f.chatMessages.add(new ChatMessage((String) m.get("role"), (String) m.get("content")));
            return f;
        }
    }
}
