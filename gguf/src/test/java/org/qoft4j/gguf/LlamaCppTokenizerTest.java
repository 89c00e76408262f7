package org.qoft4j.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.qoft4j.data.tokenizer.TextTokenizer;

/**
 * The tokenizer metadata, checked by llama.cpp's own tokenizer: for tokenizers of each kind export-gguf maps (with
 * merges learned from a little text), llama.cpp must split sample strings — spaces, digits, punctuation,
 * apostrophes, newlines, tabs, accented letters, CJK — into exactly the token ids Hugging Face tokenizers gives.
 * Byte-level BPE with GPT-2's, Llama 3's, Qwen2's and SmolLM's pre-tokenizers (tokenizer.ggml.pre gpt-2, llama-bpe, qwen2, smollm), and a
 * SentencePiece-style BPE with byte fallback (tokenizer.ggml.model llama: scores from the merge ranks, byte tokens,
 * add_space_prefix).
 */
class LlamaCppTokenizerTest {
    @TempDir
    Path tmp;

    @BeforeEach // per test, so that each skip is reported with its reason
    void peer() {
        LlamaCppPeer.assumeAvailable();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"gpt-2", "llama-bpe", "qwen2", "smollm", "llama"})
    void llamaCppTokenizesAsHuggingFace(String kind) {
        ObjectNode tok = switch (kind) {
            case "gpt-2" -> Tokenizers.byteLevel(null, false);
            case "llama-bpe" -> Tokenizers.byteLevel(Tokenizers.LLAMA3_SPLIT, true);
            case "qwen2" -> Tokenizers.byteLevel(Tokenizers.QWEN2_SPLIT, false);
            case "smollm" -> Tokenizers.smolLm();
            default -> Tokenizers.sentencePiece();
        };
        ObjectNode cfg = Tokenizers.config("<s>", "</s>", true);
        Path dir = Tokenizers.modelWith(tok, cfg, tmp.resolve("model"));
        Path gguf = tmp.resolve(kind + ".gguf");
        GgufExport.Report r = GgufExport.run(GgufExport.Options.of(dir, gguf, GgufFileType.F32), line -> {});
        assertEquals(kind.equals("llama") ? "llama" : "gpt2", r.vocabulary().model());
        assertEquals(kind.equals("llama") ? "default" : kind, r.vocabulary().pre());
        LlamaCppPeer peer = LlamaCppPeer.on(gguf, 64);
        Tokenizers.SAMPLES.forEach(peer::tokenize);
        List<JsonNode> res = peer.run();
        try (TextTokenizer hf = TextTokenizer.load(dir)) {
            for (int i = 0; i < Tokenizers.SAMPLES.size(); i++) {
                String s = Tokenizers.SAMPLES.get(i);
                assertArrayEquals(hf.encodeRaw(s), LlamaCppPeer.longs(res.get(i).get("tokens")), kind + ": tokens of '" + s + "'");
            }
        }
    }
}
