package org.qoft4j.data.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.qoft4j.data.tokenizer.TestTokenizers.ids;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tokenizer behaviour that changes training data: BOS in the text, add_bos/add_eos overrides, decode clean-up, offsets. */
class TokenizerEdgesTest {
    static final int BOT = 259, EOT = 263; // Llama-3-style test tokenizer: <|begin_of_text|>, <|eot_id|> (EOS)

    @Test
    void addBosAndAddEosOverridesAsFromPretrained(@TempDir Path dir) throws IOException {
        Path d = TestTokenizers.llama3(dir);
        try (TextTokenizer plain = TextTokenizer.load(d); TextTokenizer noBos = TextTokenizer.load(d, false, null);
             TextTokenizer withEos = TextTokenizer.load(d, null, true)) {
            assertArrayEquals(ids(BOT, "hi"), plain.encode("hi"), "the post-processor adds BOS");
            assertArrayEquals(ids("hi"), noBos.encode("hi"), "add_bos_token=False takes it off");
            assertArrayEquals(ids(BOT, "hi", EOT), withEos.encode("hi"), "add_eos_token=True appends EOS");
            assertArrayEquals(plain.encodeChat(List.of(ChatMessage.user("hi")), false), noBos.encodeChat(List.of(ChatMessage.user("hi")), false),
                    "rendered chats are tokenized without special tokens either way: the template's bos_token is the BOS");
        }
    }

    @Test
    void aTextStartingWithBosGetsOneBosNotTwoAsTransformersWouldGive(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.llama3(dir))) {
            // transformers: tokenizer("<|begin_of_text|>hi") -> [BOS, BOS, h, i]; qoft4j keeps one (and logs a warning once)
            assertArrayEquals(ids(BOT, "hi"), t.encode("<|begin_of_text|>hi"));
            assertArrayEquals(ids(BOT, BOT, "hi"), ids(BOT, t.encodeRaw("<|begin_of_text|>hi")), "what the post-processor alone gives");
            assertArrayEquals(ids(BOT, "x", BOT, "y"), t.encode("x<|begin_of_text|>y"), "only the front is deduplicated");
        }
    }

    @Test
    void decodeCleansUpSpacesWhenTheConfigSaysSo(@TempDir Path dir) throws IOException {
        Map<String, Object> cfg = new HashMap<>(Map.of("bos_token", "<s>", "eos_token", "</s>"));
        String text = "Hello , world . Is n't it ? I 'm sure !";
        try (TextTokenizer keep = TextTokenizer.load(TestTokenizers.write(dir.resolve("a"), List.of("<s>", "</s>"), false, cfg))) {
            assertEquals(text, keep.decode(keep.encodeRaw(text), false), "transformers' default: no clean-up");
        }
        cfg.put("clean_up_tokenization_spaces", true);
        try (TextTokenizer clean = TextTokenizer.load(TestTokenizers.write(dir.resolve("b"), List.of("<s>", "</s>"), false, cfg))) {
            assertEquals("Hello, world. Isn't it? I'm sure!", clean.decode(clean.encodeRaw(text), false));
        }
    }

    @Test
    void offsetsAreJavaCharOffsets(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.llama3(dir))) {
            String s = "<|start_header_id|>use 😀é the<|eot_id|>";
            TextTokenizer.Encoded e = t.encodeRawWithOffsets(s);
            assertArrayEquals(t.encodeRaw(s), e.ids());
            for (int i = 0; i < e.ids().length; i++) {
                assertTrue(e.starts()[i] <= e.ends()[i] && e.ends()[i] <= s.length(), "token " + i);
                if (i > 0) assertTrue(e.starts()[i] >= e.starts()[i - 1], "in text order");
                String piece = s.substring(e.starts()[i], e.ends()[i]);
                if (piece.chars().allMatch(c -> c < 128)) assertEquals(piece, t.decode(new long[] {e.ids()[i]}, false), "token " + i);
            }
            int emoji = s.indexOf("😀");
            // the emoji is 4 UTF-8 bytes (4 byte tokens), 2 UTF-16 chars: every one of its tokens spans both chars
            long covering = java.util.stream.IntStream.range(0, e.ids().length).filter(i -> e.starts()[i] <= emoji && e.ends()[i] >= emoji + 2).count();
            assertTrue(covering >= 4, "byte tokens of the emoji cover it whole: " + covering);
            assertEquals(s.length(), e.ends()[e.ids().length - 1]);
        }
    }
}
