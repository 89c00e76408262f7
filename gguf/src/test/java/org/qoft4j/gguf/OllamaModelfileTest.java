package org.qoft4j.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.qoft4j.data.tokenizer.ChatMessage;
import org.qoft4j.data.template.ChatTemplateRenderer;

/** Chat templates converted to Ollama's Go template by example, for the test-data, ChatML and Llama 3 templates. */
class OllamaModelfileTest {
    static final String TEST_DATA = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ message['content'] }} ={% elif "
            + "message['role'] == 'assistant' %} {{ message['content'] }}{{ eos_token }}{% else %}{{ raise_exception('only user and assistant roles "
            + "are supported') }}{% endif %}{% endfor %}";
    static final String CHATML = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are "
            + "a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    static final String LLAMA3 = "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
            + "message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
            + "{%- endif %}";

    @Test
    void testDataTemplate() {
        OllamaModelfile.Pieces p = OllamaModelfile.pieces(ChatTemplateRenderer.of(TEST_DATA, Map.of("bos_token", "<s>", "eos_token", "</s>")));
        assertEquals(new OllamaModelfile.Pieces("<s>", null, null, "", " =", " ", "</s>", ""), p);
        assertEquals("<s>{{ range $i, $_ := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}{{ if eq .Role \"user\" }}{{ .Content }} ={{ if $last }}"
                + "{{ end }}{{ else if eq .Role \"assistant\" }} {{ .Content }}{{ if not $last }}</s>{{ end }}{{ end }}{{ end }}", p.goTemplate());
    }

    @Test
    void chatMlWithItsDefaultSystemPrompt() {
        OllamaModelfile.Pieces p = OllamaModelfile.pieces(ChatTemplateRenderer.of(CHATML, Map.of()));
        assertEquals("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n", p.start());
        assertEquals("<|im_start|>system\n", p.systemPrefix());
        assertEquals("<|im_end|>\n", p.systemSuffix());
        assertEquals("<|im_start|>user\n", p.userPrefix());
        assertEquals("<|im_end|>\n", p.userSuffix());
        assertEquals("<|im_start|>assistant\n", p.assistantPrefix());
        assertEquals("<|im_end|>\n", p.assistantSuffix());
        assertEquals("<|im_start|>assistant\n", p.generationPrompt());
        assertTrue(p.goTemplate().startsWith("{{ $sys := .System }}"), p.goTemplate());
        List<ChatMessage> c = List.of(ChatMessage.system("be brief"), ChatMessage.user("hi"));
        assertEquals(OllamaModelfile.render(ChatTemplateRenderer.of(CHATML, Map.of()), c, true), p.render(c, true));
    }

    @Test
    void llama3() {
        OllamaModelfile.Pieces p = OllamaModelfile.pieces(ChatTemplateRenderer.of(LLAMA3, Map.of("bos_token", "<|begin_of_text|>")));
        assertEquals("<|begin_of_text|>", p.start());
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n", p.systemPrefix());
        assertEquals("<|start_header_id|>user<|end_header_id|>\n\n", p.userPrefix());
        assertEquals("<|eot_id|>", p.userSuffix());
        assertEquals("<|start_header_id|>assistant<|end_header_id|>\n\n", p.generationPrompt());
    }

    @Test
    void aTemplateThatIsNotAConcatenationOfTurnsIsRefused() {
        String numbered = "{% for m in messages %}[{{ loop.index }}] {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}";
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OllamaModelfile.pieces(ChatTemplateRenderer.of(numbered, Map.of())));
        assertTrue(e.getMessage().contains("differently") || e.getMessage().contains("differs"), e.getMessage());
    }
}
