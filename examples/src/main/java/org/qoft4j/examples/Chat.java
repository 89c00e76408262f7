package org.qoft4j.examples;

import java.nio.file.Path;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.qoft4j.model.GenerationConfig;
import org.qoft4j.model.Generator;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.data.TestData;
import org.qoft4j.data.tokenizer.ChatMessage;
import org.qoft4j.data.tokenizer.TextTokenizer;

/** The one helper the examples share: a greedy chat answer of a test-data model, the way the skill evaluations ask it. */
final class Chat {
    private Chat() {}

    static String ask(LlamaModel model, TextTokenizer tok, String question) {
        return ask(model, tok, TestData.model(), question);
    }

    /** @param modelDir where the model came from (its generation_config.json names the stop tokens) */
    static String ask(LlamaModel model, TextTokenizer tok, Path modelDir, String question) {
        try (PointerScope scope = new PointerScope()) {
            long[] prompt = tok.encodeChat(List.of(ChatMessage.user(question)), true);
            GenerationConfig g = GenerationConfig.greedy(24, tok.stopTokenIds(model.config().eosTokenIds(), modelDir));
            return tok.decode(Generator.generate(model, prompt, g).tokens(), true).strip();
        }
    }
}
