package org.qoft4j.data.template;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ChatTemplateRenderer's handling of tokenizer_config and of apply_chat_template's arguments, as transformers handles them. */
class ChatTemplateRendererTest {
    private static final List<Map<String, Object>> HI = List.of(Map.of("role", "user", "content", "Hi"));
    private static final Clock JAN_15 = Clock.fixed(Instant.parse("2026-01-15T10:30:00Z"), ZoneOffset.UTC);

    @Test
    void specialTokensInAddedTokenFormAndAdditionalTokens() {
        ChatTemplateRenderer r = ChatTemplateRenderer.fromTokenizerConfig(Map.of(
                "chat_template", "{{ bos_token }}|{{ eos_token }}|{{ additional_special_tokens }}|{{ pad_token is defined }}",
                "bos_token", Map.of("content", "<s>", "lstrip", false), "eos_token", "</s>",
                "additional_special_tokens", List.of(Map.of("content", "<x>"), "<y>")));
        assertEquals("<s>|</s>|['<x>', '<y>']|False", r.render(HI, false));
        assertEquals("B|</s>|['<x>', '<y>']|False", r.render(HI, ChatTemplateRenderer.Options.create().kwarg("bos_token", "B")));
    }

    @Test
    void namedTemplatesPickToolUseWhenToolsAreGiven() {
        ChatTemplateRenderer r = ChatTemplateRenderer.fromTokenizerConfig(Map.of("chat_template",
                List.of(Map.of("name", "default", "template", "D{{ tools }}"), Map.of("name", "tool_use", "template", "T{{ tools|length if tools else 0 }}"))));
        assertEquals("DNone", r.render(HI, false));
        assertEquals("T1", r.render(HI, ChatTemplateRenderer.Options.create().tools(List.of(Map.of("type", "function")))));
        assertEquals("T0", r.render(HI, ChatTemplateRenderer.Options.create().templateName("tool_use")));
        ChatTemplateRenderer onlyTools = ChatTemplateRenderer.fromTokenizerConfig(Map.of("chat_template",
                List.of(Map.of("name", "tool_use", "template", "T"), Map.of("name", "rag", "template", "R"))));
        assertThrows(IllegalArgumentException.class, () -> onlyTools.render(HI, false));
    }

    @Test
    void continueFinalMessageCutsAfterTheFinalText() {
        ChatTemplateRenderer keep = ChatTemplateRenderer.of("{% for m in messages %}<{{ m.role }}>{{ m.content }}</end>{% endfor %}", Map.of());
        List<Map<String, Object>> chat = List.of(Map.of("role", "user", "content", "Q"), Map.of("role", "assistant", "content", "The answer is "));
        ChatTemplateRenderer.Options cont = ChatTemplateRenderer.Options.create().continueFinalMessage(true);
        assertEquals("<user>Q</end><assistant>The answer is ", keep.render(chat, cont));
        // a template that trims the content loses the marker's space: the result is right-stripped, as in transformers
        ChatTemplateRenderer trim = ChatTemplateRenderer.of("{% for m in messages %}<{{ m.role }}>{{ m.content|trim }}</end>{% endfor %}", Map.of());
        assertEquals("<user>Q</end><assistant>The answer is", trim.render(chat, cont));
        List<Map<String, Object>> blocks = List.of(Map.of("role", "assistant", "content",
                List.of(Map.of("type", "text", "text", "one"), Map.of("type", "image"), Map.of("type", "text", "text", "two"))));
        ChatTemplateRenderer blockTpl = ChatTemplateRenderer.of("{% for b in messages[0].content %}{{ b.text }}|{% endfor %}END", Map.of());
        assertEquals("one||two", blockTpl.render(blocks, cont));
        assertThrows(IllegalArgumentException.class, () -> keep.render(chat, ChatTemplateRenderer.Options.create().continueFinalMessage(true).addGenerationPrompt(true)));
        ChatTemplateRenderer drops = ChatTemplateRenderer.of("{% for m in messages %}{{ m.role }}{% endfor %}", Map.of());
        assertThrows(IllegalArgumentException.class, () -> drops.render(chat, cont));
    }

    @Test
    void messageTextIsNeverTemplateCodeInRealTemplates() throws Exception {
        String code = "{{ 7*7 }} {% if true %}yes{% endif %}";
        for (String t : List.of("llama3_1", "llama3_1_instruct", "gemma3", "qwen3")) {
            String out = ChatTemplateCases.renderer(t, JAN_15).render(List.of(Map.of("role", "user", "content", code)), true);
            assertTrue(out.contains(code), t + ": " + out);
            assertFalse(out.contains("49"), t);
        }
    }

    @Test
    void realTemplatesReadTheirKwargs() throws Exception {
        String llama = ChatTemplateCases.renderer("llama3_1_instruct", JAN_15).render(HI, ChatTemplateRenderer.Options.create().kwarg("date_string", "15 Mar 2025"));
        assertTrue(llama.contains("Today Date: 15 Mar 2025\n"), llama);
        String llama32 = ChatTemplateCases.renderer("llama3_2", JAN_15).render(HI, false);
        assertTrue(llama32.contains("Today Date: 15 Jan 2026\n"), "strftime_now reads the renderer's clock: " + llama32);
        ChatTemplateRenderer qwen3 = ChatTemplateCases.renderer("qwen3", JAN_15);
        String noThink = qwen3.render(HI, ChatTemplateRenderer.Options.create().addGenerationPrompt(true).kwarg("enable_thinking", false));
        assertTrue(noThink.endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n"), noThink);
        assertTrue(qwen3.render(HI, true).endsWith("<|im_start|>assistant\n"));
    }

    /**
     * Spans as transformers' return_assistant_tokens_mask records them (Python gives [[2, 6], [7, 11], [13, 15]] in
     * code points for this template, checked with scripts/hf_chat_template.py): the first block, before anything
     * was written, is not recorded; a block inside a macro is placed at the top-level length when it runs.
     */
    @Test
    void generationSpansAsTransformersRecordsThem() {
        ChatTemplateRenderer r = ChatTemplateRenderer.of("{% generation %}A{% endgeneration %}B{% for m in messages %}{% generation %}{{ m.content }}é🙂"
                + "{% endgeneration %}|{% endfor %}{% macro x() %}{% generation %}MM{% endgeneration %}{% endmacro %}[{{ x() }}]", Map.of());
        JinjaTemplate.Rendered out = r.renderWithSpans(List.of(Map.of("role", "user", "content", "hi"), Map.of("role", "assistant", "content", "yo")),
                ChatTemplateRenderer.Options.create());
        assertEquals("ABhié🙂|yoé🙂|[MM]", out.text());
        assertEquals(List.of(List.of(2, 7), List.of(8, 13), List.of(15, 17)), out.generationSpans().stream().map(a -> List.of(a[0], a[1])).toList());
        assertEquals("yoé🙂", out.text().substring(8, 13));
        assertEquals("MM", out.text().substring(15, 17));
    }

    @Test
    void modelDirectoryPrefersChatTemplateJinja(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"config\", \"bos_token\": \"<s>\"}");
        assertEquals("config", ChatTemplateRenderer.fromModelDir(dir).render(HI, false));
        Files.writeString(dir.resolve("chat_template.jinja"), "file {{ bos_token }}\n");
        assertEquals("file <s>", ChatTemplateRenderer.fromModelDir(dir).render(HI, false));
    }

    @Test
    void aConfigWithoutTemplateIsAClearError(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("tokenizer_config.json");
        Files.writeString(cfg, "{\"bos_token\": \"<s>\"}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ChatTemplateRenderer.fromTokenizerConfig(cfg));
        assertTrue(e.getMessage().contains(cfg.toString()) && e.getMessage().contains("chat_template"), e.getMessage());
        Files.writeString(cfg, "{\"chat_template\": \"{% if %}\"}");
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> ChatTemplateRenderer.fromTokenizerConfig(cfg));
        assertTrue(bad.getMessage().contains("does not parse"), bad.getMessage());
    }
}
