package org.qoft4j.trainer.eval;

import org.qoft4j.core.ParseErrors;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.qoft4j.data.DataException;
import org.qoft4j.model.GenerationConfig;
import org.qoft4j.model.Generator;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.data.tokenizer.ChatMessage;
import org.qoft4j.data.tokenizer.TextTokenizer;

/**
 * Exact-match accuracy of greedy answers on a chat JSONL file: for each record, the conversation up to its last
 * assistant turn is the prompt (rendered with the chat template and a generation prompt), and the model's greedy
 * continuation — up to EOS, whitespace-trimmed — must equal that assistant turn's content exactly.
 */
public final class ExactMatch {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One example: the prompt turns and the expected answer. */
    public record Example(List<ChatMessage> prompt, String answer) {}

    /** accuracy in [0, 1]; {@code samples} holds the first few (prompt, expected, got) for display. */
    public record Result(double accuracy, int correct, int total, List<String[]> samples) {}

    private ExactMatch() {}

    public static List<Example> read(Path file, int max) {
        List<Example> out = new ArrayList<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
        }
        for (int i = 0; i < lines.size() && out.size() < max; i++) {
            if (lines.get(i).isBlank()) continue;
            String where = file + ":" + (i + 1);
            List<ChatMessage> msgs = new ArrayList<>();
            try {
                JsonNode m = JSON.readTree(lines.get(i)).get("messages");
                if (m == null || !m.isArray()) throw new DataException(where + ": expected {\"messages\": [...]}");
                for (JsonNode x : m) msgs.add(new ChatMessage(x.path("role").asText(), x.path("content").asText()));
            } catch (IOException e) {
                throw new DataException(where + ": not valid JSON: " + ParseErrors.describe(e));
            }
            int last = msgs.size() - 1;
            if (last < 1 || !msgs.get(last).role().equals("assistant"))
                throw new DataException(where + ": expected the conversation to end with an assistant turn (the expected answer)");
            out.add(new Example(List.copyOf(msgs.subList(0, last)), msgs.get(last).content()));
        }
        return out;
    }

    public static Result evaluate(LlamaModel m, TextTokenizer tok, List<Example> examples, int maxNewTokens, Set<Long> stop) {
        int correct = 0;
        List<String[]> shown = new ArrayList<>();
        for (Example ex : examples) {
            long[] prompt = tok.encodeChat(ex.prompt(), true);
            Generator.Result r = Generator.generate(m, prompt, GenerationConfig.greedy(maxNewTokens, stop));
            String got = tok.decode(r.tokens(), true).strip();
            boolean ok = got.equals(ex.answer());
            if (ok) correct++;
            if (shown.size() < 3) shown.add(new String[] {ex.prompt().get(ex.prompt().size() - 1).content(), ex.answer(), got});
        }
        return new Result(examples.isEmpty() ? 0 : (double) correct / examples.size(), correct, examples.size(), shown);
    }
}
