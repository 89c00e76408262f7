package org.qoft4j.data.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.qoft4j.data.tokenizer.TestTokenizers.ids;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextTokenizerTest {
    static final int BOT = 259, EOT_TEXT = 260, SH = 261, EH = 262, EOT = 263; // Llama-3-style ids
    static final int ENDOFTEXT = 259, IMS = 260, IME = 261;                    // Qwen-style ids

    @Test
    void roundTripsArbitraryText(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.llama3(dir))) {
            Random r = new Random(1);
            String alphabet = "abcdefghijklmnopqrstuvwxyz ABC\n\t.,!?0123456789éüß日本語😀<>|_";
            for (int n = 0; n < 200; n++) {
                StringBuilder sb = new StringBuilder();
                int len = r.nextInt(40);
                for (int i = 0; i < len; i++) sb.appendCodePoint(alphabet.codePoints().toArray()[r.nextInt((int) alphabet.codePoints().count())]);
                String s = sb.toString();
                assertEquals(s, t.decode(t.encodeRaw(s), false), "round trip of [" + s + "]");
            }
            String withSpecials = "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>";
            long[] ids = t.encodeRaw(withSpecials);
            assertEquals(withSpecials, t.decode(ids, false));
            assertEquals("user\n\nhi", t.decode(ids, true), "skipping special tokens");
        }
    }

    @Test
    void mergesAndSpecialTokensGiveTheHandWrittenIds(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.llama3(dir))) {
            assertArrayEquals(ids(257, "r", 258, "he"), t.encodeRaw("user the"));
            assertArrayEquals(ids(SH, 256, EOT), t.encodeRaw("<|start_header_id|>us<|eot_id|>"));
            assertEquals(BOT, t.bosId());
            assertEquals(EOT, t.eosId());
        }
    }

    @Test
    void neverTwoBos(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.llama3(dir))) {
            assertArrayEquals(ids(BOT, "hi"), t.encode("hi"), "post-processor adds BOS");
            assertArrayEquals(ids(BOT, "hi"), t.encode("<|begin_of_text|>hi"), "text already starting with BOS keeps one");
            long[] chat = t.encodeChat(List.of(ChatMessage.user("hi")), false);
            assertEquals(BOT, chat[0]);
            assertTrue(chat[1] != BOT, "the template's bos_token is the only BOS");
            assertTrue(t.addsBos());
        }
    }

    @Test
    void addBosAndEosFromTokenizerConfig(@TempDir Path dir) throws IOException {
        TestTokenizers.write(dir, List.of("<s>", "</s>"), false, Map.of("bos_token", Map.of("content", "<s>"), "eos_token", "</s>",
                "add_bos_token", true, "add_eos_token", true));
        try (TextTokenizer t = TextTokenizer.load(dir)) {
            assertArrayEquals(ids(259, "ab", 260), t.encode("ab"));
            assertArrayEquals(ids(259, "ab", 260), t.encode("<s>ab"));
            assertArrayEquals(ids("ab"), t.encodeRaw("ab"));
            assertFalse(t.hasChatTemplate());
            TokenizerException e = assertThrows(TokenizerException.class, () -> t.encodeChat(List.of(ChatMessage.user("x")), true));
            assertTrue(e.getMessage().contains("no chat_template"), e.getMessage());
        }
    }

    @Test
    void llama3TemplateRendersToExactIds(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.llama3(dir))) {
            List<ChatMessage> conv = List.of(ChatMessage.system("Be brief. "), ChatMessage.user("2+2?"), ChatMessage.assistant("4"));
            assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                    + "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>",
                    t.applyChatTemplate(conv, false));
            long[] want = ids(BOT, SH, "system", EH, "\n\nBe brief.", EOT, SH, 257, "r", EH, "\n\n2+2?", EOT, SH, "assistant", EH, "\n\n4", EOT);
            assertArrayEquals(want, t.encodeChat(conv, false));
            long[] prompt = ids(BOT, SH, 257, "r", EH, "\n\nHi", EOT, SH, "assistant", EH, "\n\n");
            assertArrayEquals(prompt, t.encodeChat(List.of(ChatMessage.user("Hi")), true), "generation prompt");
        }
    }

    @Test
    void qwenChatMlTemplateRendersToExactIds(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.qwen(dir))) {
            assertEquals(null, t.bosId());
            assertEquals(IME, t.eosId());
            assertEquals(ENDOFTEXT, t.padId());
            assertArrayEquals(ids("hi"), t.encode("hi"), "no BOS for Qwen");
            List<ChatMessage> conv = List.of(ChatMessage.user("Is the user ok?"), ChatMessage.assistant("Yes."));
            String sys = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
            assertEquals("<|im_start|>system\n" + sys + "<|im_end|>\n<|im_start|>user\nIs the user ok?<|im_end|>\n<|im_start|>assistant\nYes.<|im_end|>\n",
                    t.applyChatTemplate(conv, false));
            long[] want = ids(IMS, "system\n" + sys, IME, "\n", IMS, 257, "r\nIs", 258, "he", 32, 257, "r ok?", IME, "\n", IMS, "assistant\nYes.", IME, "\n");
            assertArrayEquals(want, t.encodeChat(conv, false));
            // an explicit system message replaces the default one; the generation prompt opens the assistant turn
            long[] withSystem = t.encodeChat(List.of(ChatMessage.system("S"), ChatMessage.user("Q")), true);
            assertArrayEquals(ids(IMS, "system\nS", IME, "\n", IMS, 257, "r\nQ", IME, "\n", IMS, "assistant\n"), withSystem);
        }
    }

    @Test
    void templatesCanRejectConversations(@TempDir Path dir) throws IOException {
        TestTokenizers.write(dir, List.of("<s>", "</s>"), false, Map.of("bos_token", "<s>", "eos_token", "</s>", "chat_template", TestTokenizers.LLAMA2_TEMPLATE));
        try (TextTokenizer t = TextTokenizer.load(dir)) {
            assertEquals("<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nQ [/INST] A </s>",
                    t.applyChatTemplate(List.of(ChatMessage.system("S"), ChatMessage.user("Q"), ChatMessage.assistant("A")), false));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> t.applyChatTemplate(List.of(ChatMessage.user("a"), ChatMessage.user("b")), false));
            assertTrue(e.getMessage().contains("Conversation roles must alternate"), e.getMessage());
        }
    }

    @Test
    void chatTemplateFileAndListForms(@TempDir Path dir) throws IOException {
        TestTokenizers.write(dir, List.of("<s>"), false, Map.of("chat_template", List.of(Map.of("name", "tool_use", "template", "T"),
                Map.of("name", "default", "template", "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"))));
        try (TextTokenizer t = TextTokenizer.load(dir)) {
            assertEquals("[user]x", t.applyChatTemplate(List.of(ChatMessage.user("x")), false));
        }
        Files.writeString(dir.resolve("chat_template.jinja"), "{{ messages | length }}");
        try (TextTokenizer t = TextTokenizer.load(dir)) {
            assertEquals("1", t.applyChatTemplate(List.of(ChatMessage.user("x")), false), "chat_template.jinja wins");
        }
    }

    @Test
    void missingOrBrokenFilesAreClearErrors(@TempDir Path dir) throws IOException {
        TokenizerException e = assertThrows(TokenizerException.class, () -> TextTokenizer.load(dir));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("not found"), e.getMessage());
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": 3");
        e = assertThrows(TokenizerException.class, () -> TextTokenizer.load(dir));
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
        TestTokenizers.llama3(dir);
        Files.writeString(dir.resolve("tokenizer_config.json"), "[1,");
        e = assertThrows(TokenizerException.class, () -> TextTokenizer.load(dir));
        assertTrue(e.getMessage().contains("tokenizer_config.json") && e.getMessage().contains("not valid JSON"), e.getMessage());
    }
}
