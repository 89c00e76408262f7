package org.qoft4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.qoft4j.data.template.ChatTemplateRenderer;
import org.qoft4j.data.template.TemplateException;
import org.qoft4j.data.tokenizer.ChatMessage;
import org.qoft4j.data.tokenizer.TextTokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns one JSONL record into a {@link Sample}. Formats, recognized by their keys:
 * <ul>
 * <li>{@code {"text"}}: every token scored; BOS as the tokenizer adds it, EOS appended.</li>
 * <li>alpaca {@code {"instruction", "input"?, "output"}}: through the chat template (one user turn, one assistant
 * turn) when the tokenizer has one, else the Stanford Alpaca prompt; the output is followed by EOS.</li>
 * <li>chat {@code {"messages": [...], "tools"?, "documents"?, "system"?, "chat_template_kwargs"?}} and ShareGPT
 * {@code {"conversations": [{"from", "value"}], "system"?, "tools"?}} ({@link ChatRecord}): rendered with the chat
 * template; tool calls, tool results and reasoning reach it as the messages hold them.</li>
 * <li>pre-tokenized {@code {"input_ids": [...], "labels"?: [...]}}: used as given (labels default to the ids).</li>
 * </ul>
 * Unless {@code trainOnPrompt}, labels are {@link Sample#IGNORE} on everything but the completion (alpaca without a
 * template) or the assistant turns (chat; {@link AssistantSpans} says how each template's are found).
 */
public final class SampleEncoder {
    static final String ALPACA_WITH_INPUT = "Below is an instruction that describes a task, paired with an input that provides further context. "
            + "Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Input:\n%s\n\n### Response:\n";
    static final String ALPACA_NO_INPUT = "Below is an instruction that describes a task. "
            + "Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Response:\n";

    private static final Logger LOG = LoggerFactory.getLogger(SampleEncoder.class);

    private final TextTokenizer tokenizer; // null: only pre-tokenized records can be encoded
    private final boolean trainOnPrompt;
    private final int vocabSize;           // 0 = unchecked
    private final Map<String, Object> chatTemplateKwargs;
    private boolean warnedReasoning;

    /**
     * @param tokenizer     null when every record is pre-tokenized
     * @param trainOnPrompt score prompt / non-assistant tokens too
     * @param vocabSize     when positive, pre-tokenized ids must lie below it
     */
    public SampleEncoder(TextTokenizer tokenizer, boolean trainOnPrompt, int vocabSize) {
        this(tokenizer, trainOnPrompt, vocabSize, Map.of());
    }

    /**
     * @param chatTemplateKwargs apply_chat_template keyword arguments for every chat record ({@code enable_thinking},
     *                           {@code date_string}, {@code tools}, ...); a record's own {@code chat_template_kwargs},
     *                           {@code tools} and {@code documents} win
     */
    public SampleEncoder(TextTokenizer tokenizer, boolean trainOnPrompt, int vocabSize, Map<String, Object> chatTemplateKwargs) {
        this.tokenizer = tokenizer;
        this.trainOnPrompt = trainOnPrompt;
        this.vocabSize = vocabSize;
        this.chatTemplateKwargs = chatTemplateKwargs == null ? Map.of() : chatTemplateKwargs;
    }

    /** Which format a record is in, by its keys; null when none matches. */
    public static DataFormat detect(JsonNode o) {
        if (o.has("input_ids")) return DataFormat.TOKENS;
        if (o.has("messages")) return DataFormat.CHAT;
        if (o.has("conversations")) return DataFormat.SHAREGPT;
        if (o.has("instruction") || o.has("output")) return DataFormat.ALPACA;
        if (o.has("text")) return DataFormat.TEXT;
        return null;
    }

    /** @throws IllegalArgumentException saying what the record lacks (the caller prefixes file:line) */
    public Sample encode(JsonNode o) {
        if (o == null || !o.isObject()) throw new IllegalArgumentException("expected a JSON object");
        DataFormat f = detect(o);
        if (f == null)
            throw new IllegalArgumentException("expected a JSON object with \"text\", \"instruction\" and \"output\" (alpaca), \"messages\" (chat), "
                    + "\"conversations\" (ShareGPT) or \"input_ids\"; found keys " + fieldNames(o));
        if (f != DataFormat.TOKENS && tokenizer == null)
            throw new IllegalArgumentException(f.name().toLowerCase() + " records need a tokenizer (the model directory's tokenizer.json)");
        switch (f) {
            case TEXT: return text(string(o, "text"));
            case ALPACA: return alpaca(string(o, "instruction"), o.has("input") ? string(o, "input") : "", string(o, "output"));
            case CHAT: return chat(ChatRecord.fromMessages(o));
            case SHAREGPT: return chat(ChatRecord.fromShareGpt(o));
            default: return tokens(o);
        }
    }

    private Sample text(String text) {
        return Sample.allScored(withEos(tokenizer.encode(text)));
    }

    private Sample alpaca(String instruction, String input, String output) {
        if (tokenizer.hasChatTemplate())
            return chat(new ChatRecord(List.of(ChatMessage.user(input.isEmpty() ? instruction : instruction + "\n\n" + input).asMap(),
                    ChatMessage.assistant(output).asMap()), null, null, Map.of()));
        long[] prompt = tokenizer.encode(input.isEmpty() ? String.format(ALPACA_NO_INPUT, instruction) : String.format(ALPACA_WITH_INPUT, instruction, input));
        long[] completion = withEos(tokenizer.encodeRaw(output));
        return promptAndCompletion(prompt, completion);
    }

    /**
     * The conversation rendered by the chat template as transformers renders it (tools, documents and template
     * kwargs: the config's, then the record's), tokenized whole as {@code apply_chat_template(tokenize=True)} does
     * (no special tokens added); a token is scored when it overlaps an assistant span ({@link AssistantSpans}), as
     * transformers' assistant mask marks the tokens from the one holding a span's first character to the one
     * holding its last.
     */
    private Sample chat(ChatRecord r) {
        ChatTemplateRenderer.Options opt = ChatTemplateRenderer.Options.create().applyKwargs(chatTemplateKwargs);
        if (r.tools() != null) opt.tools(r.tools());
        if (r.documents() != null) opt.documents(r.documents());
        opt.applyKwargs(r.kwargs());
        AssistantSpans.Result found;
        try {
            found = AssistantSpans.find(tokenizer.chatTemplate(), r.messages(), opt);
        } catch (TemplateException e) {
            throw new IllegalArgumentException("chat template failed: " + e.getMessage(), e);
        }
        warnIfReasoningDropped(r.messages(), found.text());
        TextTokenizer.Encoded enc = tokenizer.encodeRawWithOffsets(found.text());
        if (enc.ids().length == 0) throw new IllegalArgumentException("the chat template rendered the conversation to no tokens");
        long[] labels = new long[enc.ids().length];
        int s = 0; // spans and tokens are both in text order
        for (int i = 0; i < labels.length; i++) {
            int a = enc.starts()[i], b = Math.max(enc.ends()[i], a + 1);
            while (s < found.spans().size() && found.spans().get(s)[1] <= a) s++;
            boolean scored = trainOnPrompt || (s < found.spans().size() && found.spans().get(s)[0] < b);
            labels[i] = scored ? enc.ids()[i] : Sample.IGNORE;
        }
        return new Sample(enc.ids(), labels);
    }

    /** reasoning_content the template does not render is not trained on: say so once (Llama-style templates ignore it). */
    private void warnIfReasoningDropped(List<Map<String, Object>> messages, String text) {
        if (warnedReasoning) return;
        for (int k = 0; k < messages.size(); k++) {
            if (!(messages.get(k).get("reasoning_content") instanceof String rc) || rc.isBlank() || text.contains(rc.strip())) continue;
            warnedReasoning = true;
            LOG.warn("message {} has reasoning_content that the chat template does not render (this template ignores it, or drops it from turns "
                    + "before the last user message, as Qwen3's does); it is not trained on. Put it in the content as <think>...</think> if the "
                    + "model should learn it. (Shown once.)", k);
            return;
        }
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
