package org.qoft4j.cli.testdata;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.trainer.eval.ExactMatch;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.data.tokenizer.ChatMessage;
import org.qoft4j.data.tokenizer.TextTokenizer;

/** The committed test-data: regenerable datasets, and a base model that has its base skill and lacks the new one. */
class TestDataTest {
    static final Path TEST_DATA = Path.of("..", "test-data").toAbsolutePath().normalize();

    @Test
    void datasetsRegenerateByteForByte(@TempDir Path tmp) throws Exception {
        TestDataGenerator.writeDatasets(tmp, new Random(TestDataGenerator.SEED));
        for (String f : List.of("copy-eval.jsonl", "shift-eval.jsonl", "shift-train.jsonl"))
            assertArrayEquals(Files.readAllBytes(TEST_DATA.resolve("data").resolve(f)), Files.readAllBytes(tmp.resolve(f)), f);
    }

    @Test
    void skillsAreWhatTheNamesSay() {
        assertEquals("bcda", Skills.shifted("abcz"));
        assertEquals(new Skills.Task("shift xyz", "yza"), Skills.shift("xyz"));
    }

    @Test
    void tokenizerIsByteLevelWithTheChatTemplateAsPromptPrefix() {
        try (TextTokenizer tok = TextTokenizer.load(TEST_DATA.resolve("tiny-llama"))) {
            long[] prompt = tok.encodeChat(List.of(ChatMessage.user("copy ab")), true);
            long[] full = tok.encodeChat(List.of(ChatMessage.user("copy ab"), ChatMessage.assistant("ab")), false);
            // <s> c o p y ' ' a b ' ' '='   then ' ' a b </s>
            assertArrayEquals(new long[] {1, 3 + 'c', 3 + 'o', 3 + 'p', 3 + 'y', 3 + ' ', 3 + 'a', 3 + 'b', 3 + ' ', 3 + '='}, prompt);
            assertArrayEquals(new long[] {3 + ' ', 3 + 'a', 3 + 'b', 2}, java.util.Arrays.copyOfRange(full, prompt.length, full.length));
            assertEquals("copy ab = ab", tok.decode(full, true));
        }
    }

    @Test
    void baseModelCopiesButCannotShift() {
        try (PointerScope scope = new PointerScope();
             TextTokenizer tok = TextTokenizer.load(TEST_DATA.resolve("tiny-llama"));
             LlamaModel m = ModelLoader.load(TEST_DATA.resolve("tiny-llama"), LoadOptions.cpu())) {
            Set<Long> stop = Set.of(2L);
            var copy = ExactMatch.evaluate(m, tok, ExactMatch.read(TEST_DATA.resolve("data/copy-eval.jsonl"), 20), 12, stop);
            var shift = ExactMatch.evaluate(m, tok, ExactMatch.read(TEST_DATA.resolve("data/shift-eval.jsonl"), 20), 12, stop);
            assertTrue(copy.accuracy() >= 0.95, "base skill accuracy " + copy.accuracy());
            assertTrue(shift.accuracy() <= 0.05, "new skill accuracy before finetuning " + shift.accuracy());
        }
    }
}
