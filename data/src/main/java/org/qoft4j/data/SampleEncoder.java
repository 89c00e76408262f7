package org.qoft4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.qoft4j.data.tokenizer.ChatMessage;
import org.qoft4j.data.tokenizer.TextTokenizer;

/**
 * Turns one JSONL record into a {@link Sample}. Formats, recognized by their keys:
 * <ul>
 * <li>{@code {"text"}}: every token scored; BOS as the tokenizer adds it, EOS appended.</li>
 * <li>alpaca {@code {"instruction", "input"?, "output"}}: through the chat template (one user turn, one assistant
 * turn) when the tokenizer has one, else the Stanford Alpaca prompt; the output is followed by EOS.</li>
 * <li>chat {@code {"messages": [{"role", "content"}, ...]}}: rendered with the chat template.</li>
 * <li>pre-tokenized {@code {"input_ids": [...], "labels"?: [...]}}: used as given (labels default to the ids).</li>
 * </ul>
 * Unless {@code trainOnPrompt}, labels are {@link Sample#IGNORE} on everything but the completion (alpaca) or the
 * assistant turns (chat). Prompt and completion are tokenized separately, so the boundary is exact.
 */
public final class SampleEncoder {
    static final String ALPACA_WITH_INPUT = "Below is an instruction that describes a task, paired with an input that provides further context. "
            + "Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Input:\n%s\n\n### Response:\n";
    static final String ALPACA_NO_INPUT = "Below is an instruction that describes a task. "
            + "Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Response:\n";

    private final TextTokenizer tokenizer; // null: only pre-tokenized records can be encoded
    private final boolean trainOnPrompt;
    private final int vocabSize;           // 0 = unchecked

    /**
     * @param tokenizer     null when every record is pre-tokenized
     * @param trainOnPrompt score prompt / non-assistant tokens too
     * @param vocabSize     when positive, pre-tokenized ids must lie below it
     */
    public SampleEncoder(TextTokenizer tokenizer, boolean trainOnPrompt, int vocabSize) {
        this.tokenizer = tokenizer;
        this.trainOnPrompt = trainOnPrompt;
        this.vocabSize = vocabSize;
    }

    /** Which format a record is in, by its keys; null when none matches. */
    public static DataFormat detect(JsonNode o) {
        if (o.has("input_ids")) return DataFormat.TOKENS;
        if (o.has("messages")) return DataFormat.CHAT;
        if (o.has("instruction") || o.has("output")) return DataFormat.ALPACA;
        if (o.has("text")) return DataFormat.TEXT;
        return null;
    }

    /** @throws IllegalArgumentException saying what the record lacks (the caller prefixes file:line) */
    public Sample encode(JsonNode o) {
        if (o == null || !o.isObject()) throw new IllegalArgumentException("expected a JSON object");
        DataFormat f = detect(o);
        if (f == null)
            throw new IllegalArgumentException("expected a JSON object with \"text\", \"instruction\" and \"output\" (alpaca), \"messages\" (chat) or "
                    + "\"input_ids\"; found keys " + fieldNames(o));
        if (f != DataFormat.TOKENS && tokenizer == null)
            throw new IllegalArgumentException(f.name().toLowerCase() + " records need a tokenizer (the model directory's tokenizer.json)");
        switch (f) {
            case TEXT: return text(string(o, "text"));
            case ALPACA: return alpaca(string(o, "instruction"), o.has("input") ? string(o, "input") : "", string(o, "output"));
            case CHAT: return chat(messages(o));
            default: return tokens(o);
        }
    }

    private Sample text(String text) {
        return Sample.allScored(withEos(tokenizer.encode(text)));
    }

    private Sample alpaca(String instruction, String input, String output) {
        if (tokenizer.hasChatTemplate())
            return chat(List.of(ChatMessage.user(input.isEmpty() ? instruction : instruction + "\n\n" + input), ChatMessage.assistant(output)));
        long[] prompt = tokenizer.encode(input.isEmpty() ? String.format(ALPACA_NO_INPUT, instruction) : String.format(ALPACA_WITH_INPUT, instruction, input));
        long[] completion = withEos(tokenizer.encodeRaw(output));
        return promptAndCompletion(prompt, completion);
    }

    /**
     * The conversation rendered by the chat template, tokenized in pieces: each assistant turn is the text the
     * template adds between the prompt with a generation prompt and the conversation through that turn.
     */
    private Sample chat(List<ChatMessage> messages) {
        String full = tokenizer.applyChatTemplate(messages, false);
        List<int[]> spans = new ArrayList<>(); // [start, end) character ranges of assistant turns
        for (int k = 0; k < messages.size(); k++) {
            if (!messages.get(k).role().equals("assistant")) continue;
            String before = tokenizer.applyChatTemplate(messages.subList(0, k), true);
            String through = tokenizer.applyChatTemplate(messages.subList(0, k + 1), false);
            if (!through.startsWith(before) || !full.startsWith(through))
                throw new IllegalArgumentException("the chat template does not render message " + k
                        + " as an extension of the conversation before it, so its assistant tokens cannot be located (use trainOnPrompt or pre-tokenized data)");
            spans.add(new int[] {before.length(), through.length()});
        }
        List<Long> ids = new ArrayList<>(), labels = new ArrayList<>();
        int at = 0;
        for (int[] s : spans) {
            append(ids, labels, tokenizer.encodeRaw(full.substring(at, s[0])), trainOnPrompt);
            append(ids, labels, tokenizer.encodeRaw(full.substring(s[0], s[1])), true);
            at = s[1];
        }
        append(ids, labels, tokenizer.encodeRaw(full.substring(at)), trainOnPrompt);
        if (ids.isEmpty()) throw new IllegalArgumentException("the chat template rendered the conversation to no tokens");
        return new Sample(ids.stream().mapToLong(Long::longValue).toArray(), labels.stream().mapToLong(Long::longValue).toArray());
    }

    private Sample tokens(JsonNode o) {
        long[] ids = longs(o, "input_ids", false);
        long[] labels = o.has("labels") ? longs(o, "labels", true) : ids.clone();
        if (ids.length == 0) throw new IllegalArgumentException("\"input_ids\" is empty");
        if (labels.length != ids.length)
            throw new IllegalArgumentException("\"labels\" has " + labels.length + " entries, \"input_ids\" " + ids.length + "; expected equal lengths");
        return new Sample(ids, labels);
    }

    private long[] longs(JsonNode o, String key, boolean labels) {
        JsonNode a = o.get(key);
        if (a == null || !a.isArray()) throw new IllegalArgumentException("expected \"" + key + "\" to be an array of integers");
        long[] v = new long[a.size()];
        for (int i = 0; i < v.length; i++) {
            JsonNode x = a.get(i);
            if (!x.canConvertToLong() || !x.isIntegralNumber())
                throw new IllegalArgumentException("\"" + key + "\"[" + i + "] is " + x + ", expected an integer");
            v[i] = x.asLong();
            boolean ok = labels ? v[i] == Sample.IGNORE || v[i] >= 0 : v[i] >= 0;
            if (ok && vocabSize > 0 && v[i] >= vocabSize) ok = false;
            if (!ok)
                throw new IllegalArgumentException("\"" + key + "\"[" + i + "] = " + v[i] + " is outside the vocabulary [0, "
                        + (vocabSize > 0 ? vocabSize : "inf") + ")" + (labels ? " and is not -100" : ""));
        }
        return v;
    }

    private Sample promptAndCompletion(long[] prompt, long[] completion) {
        long[] ids = new long[prompt.length + completion.length];
        System.arraycopy(prompt, 0, ids, 0, prompt.length);
        System.arraycopy(completion, 0, ids, prompt.length, completion.length);
        long[] labels = ids.clone();
        if (!trainOnPrompt) Arrays.fill(labels, 0, prompt.length, Sample.IGNORE);
        return new Sample(ids, labels);
    }

    private long[] withEos(long[] ids) {
        Long eos = tokenizer.eosId();
        if (eos == null || (ids.length > 0 && ids[ids.length - 1] == eos)) return ids;
        long[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = eos;
        return out;
    }

    private static void append(List<Long> ids, List<Long> labels, long[] piece, boolean scored) {
        for (long id : piece) {
            ids.add(id);
            labels.add(scored ? id : Sample.IGNORE);
        }
    }

    private static List<ChatMessage> messages(JsonNode o) {
        JsonNode a = o.get("messages");
        if (!a.isArray() || a.isEmpty()) throw new IllegalArgumentException("expected \"messages\" to be a non-empty array of {\"role\", \"content\"}");
        List<ChatMessage> ms = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            JsonNode m = a.get(i);
            if (!m.isObject() || !m.path("role").isTextual() || !m.path("content").isTextual())
                throw new IllegalArgumentException("messages[" + i + "] must be an object with string \"role\" and \"content\", got " + m);
            ms.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
        }
        return ms;
    }

    private static String string(JsonNode o, String key) {
        JsonNode v = o.get(key);
        if (v == null || !v.isTextual()) throw new IllegalArgumentException("expected \"" + key + "\" to be a string" + (v == null ? "" : ", got " + v));
        return v.asText();
    }

    private static List<String> fieldNames(JsonNode o) {
        List<String> names = new ArrayList<>();
        o.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
