package org.qoft4j.data.tokenizer;

import org.qoft4j.core.ParseErrors;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.qoft4j.data.template.ChatTemplateRenderer;
import org.qoft4j.data.template.TemplateException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A model's tokenizer: {@code tokenizer.json} through DJL's binding of Hugging Face tokenizers (offline), plus
 * what {@code tokenizer_config.json} adds — the special tokens, {@code add_bos_token} / {@code add_eos_token}
 * (overridable on loading, as {@code from_pretrained(add_bos_token=...)}), {@code clean_up_tokenization_spaces}
 * and the chat template (or {@code chat_template.jinja}).
 *
 * <p>BOS is never doubled: text that already starts with the BOS string keeps just that one BOS. Here qoft4j
 * departs from transformers on purpose, which adds a second BOS in front of the text's own (a known cause of
 * degraded finetunes); the first such text logs a warning. Rendered chat templates are tokenized without adding
 * special tokens, as transformers' {@code apply_chat_template(tokenize=True)} does, so a template that writes
 * {@code bos_token} gives exactly one BOS and one that does not gives none.
 */
public final class TextTokenizer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Logger LOG = LoggerFactory.getLogger(TextTokenizer.class);

    static {
        System.setProperty("ai.djl.offline", "true"); // never reach for the network
        if (System.getProperty("org.slf4j.simpleLogger.log.ai.djl") == null)
            System.setProperty("org.slf4j.simpleLogger.log.ai.djl", "error"); // DJL's GPU probing warnings are noise here
    }

    private final Path source;
    private final HuggingFaceTokenizer tokenizer;
    private final Map<String, String> specialTokens; // bos_token -> "<s>", ...
    private final Long bosId;
    private final Long eosId;
    private final Long padId;
    private final Boolean addBos; // tokenizer_config's add_bos_token; null = as tokenizer.json's post-processor does
    private final Boolean addEos;
    private final boolean cleanUpSpaces; // tokenizer_config's clean_up_tokenization_spaces (transformers' default: false)
    private final ChatTemplateRenderer chatTemplate; // null when the model has none
    private boolean warnedBos;

    private TextTokenizer(Path source, HuggingFaceTokenizer tokenizer, JsonNode config, Object template, Boolean addBosOverride, Boolean addEosOverride) {
        this.source = source;
        this.tokenizer = tokenizer;
        Map<String, String> sp = new LinkedHashMap<>();
        for (String key : List.of("bos_token", "eos_token", "pad_token", "unk_token")) {
            JsonNode v = config.get(key);
            if (v != null && v.isTextual()) sp.put(key, v.asText());
            else if (v != null && v.isObject() && v.hasNonNull("content")) sp.put(key, v.get("content").asText());
        }
        this.specialTokens = Map.copyOf(sp);
        this.bosId = tokenId(sp.get("bos_token"));
        this.eosId = tokenId(sp.get("eos_token"));
        this.padId = tokenId(sp.get("pad_token"));
        Boolean bos = config.has("add_bos_token") && config.get("add_bos_token").isBoolean() ? config.get("add_bos_token").asBoolean() : null;
        Boolean eos = config.has("add_eos_token") && config.get("add_eos_token").isBoolean() ? config.get("add_eos_token").asBoolean() : null;
        this.addBos = addBosOverride != null ? addBosOverride : bos;
        this.addEos = addEosOverride != null ? addEosOverride : eos;
        this.cleanUpSpaces = config.path("clean_up_tokenization_spaces").asBoolean(false);
        try {
            this.chatTemplate = template == null ? null : ChatTemplateRenderer.of(template, JSON.convertValue(config, Map.class));
        } catch (TemplateException | IllegalArgumentException e) {
            throw new TokenizerException(source + ": the chat template does not parse: " + e.getMessage(), e);
        }
    }

    /**
     * Loads {@code dir/tokenizer.json} with {@code dir/tokenizer_config.json} and {@code dir/chat_template.jinja}
     * when present.
     */
    public static TextTokenizer load(Path dir) {
        return load(dir, null, null);
    }

    /**
     * As {@link #load(Path)}, with {@code add_bos_token} / {@code add_eos_token} set as transformers'
     * {@code from_pretrained(dir, add_bos_token=..., add_eos_token=...)} sets them; null keeps tokenizer_config's value.
     * They change what {@link #encode} adds (text records), never rendered chats.
     */
    public static TextTokenizer load(Path dir, Boolean addBos, Boolean addEos) {
        Path json = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(json))
            throw new TokenizerException(json + ": not found (the model directory needs a Hugging Face tokenizer.json)");
        JsonNode config = JSON.createObjectNode();
        Path cfg = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(cfg)) {
            try {
                config = JSON.readTree(cfg.toFile());
            } catch (IOException e) {
                throw new TokenizerException(cfg + ": not valid JSON: " + ParseErrors.describe(e), e);
            }
            if (!config.isObject()) throw new TokenizerException(cfg + ": expected a JSON object");
        }
        Object template = config.hasNonNull("chat_template") ? JSON.convertValue(config.get("chat_template"), Object.class) : null;
        Path jinja = dir.resolve("chat_template.jinja"); // newer transformers save the template here; it wins
        try {
            if (Files.isRegularFile(jinja)) template = Files.readString(jinja);
        } catch (IOException e) {
            throw new TokenizerException(jinja + ": cannot read: " + e.getMessage(), e);
        }
        HuggingFaceTokenizer tok;
        try {
            // no truncation or padding: DJL's defaults would cut text at 512 tokens
            tok = HuggingFaceTokenizer.newInstance(json, Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "true"));
        } catch (IOException | RuntimeException e) {
            throw new TokenizerException(json + ": cannot load tokenizer: " + e.getMessage(), e);
        }
        return new TextTokenizer(dir, tok, config, template, addBos, addEos);
    }

    /** The id of a single token string (an added/special token or a vocabulary entry), or null. */
    public Long tokenId(String token) {
        if (token == null) return null;
        long[] ids = tokenizer.encode(token, false, false).getIds();
        return ids.length == 1 ? ids[0] : null;
    }

    public Path source() {
        return source;
    }

    public Long bosId() {
        return bosId;
    }

    public Long eosId() {
        return eosId;
    }

    /** The pad token's id, or null when the tokenizer has none (packing needs none). */
    public Long padId() {
        return padId;
    }

    public Map<String, String> specialTokens() {
        return specialTokens;
    }

    public boolean hasChatTemplate() {
        return chatTemplate != null;
    }

    public ChatTemplateRenderer chatTemplate() {
        if (chatTemplate == null) throw new TokenizerException(source + ": the tokenizer has no chat_template (tokenizer_config.json or chat_template.jinja)");
        return chatTemplate;
    }

    /** Tokens of {@code text} with no special tokens added (special-token strings inside the text still map to their ids). */
    public long[] encodeRaw(String text) {
        return tokenizer.encode(text, false, false).getIds();
    }

    /**
     * Tokens with their text spans.
     *
     * @param ids    the tokens, as {@link #encodeRaw}
     * @param starts start of token i in the text, in UTF-16 chars
     * @param ends   end (exclusive) of token i; a token that covers part of a character covers all of it
     */
    public record Encoded(long[] ids, int[] starts, int[] ends) {}

    /** {@link #encodeRaw} with each token's span in the text (transformers' offset mapping, in Java char offsets). */
    public Encoded encodeRawWithOffsets(String text) {
        ai.djl.huggingface.tokenizers.Encoding e = tokenizer.encode(text, false, false);
        ai.djl.huggingface.tokenizers.jni.CharSpan[] spans = e.getCharTokenSpans();
        long[] ids = e.getIds();
        int[] cpToChar = codePointOffsets(text); // tokenizers count Unicode code points; Java strings UTF-16 units
        int[] starts = new int[ids.length], ends = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            int a = Math.min(spans[i].getStart(), cpToChar.length - 1), b = Math.min(spans[i].getEnd(), cpToChar.length - 1);
            starts[i] = cpToChar[a];
            ends[i] = cpToChar[Math.max(a, b)];
        }
        return new Encoded(ids, starts, ends);
    }

    /** UTF-16 offset of each code-point offset 0..n (n + 1 entries). */
    private static int[] codePointOffsets(String text) {
        int n = text.codePointCount(0, text.length());
        int[] out = new int[n + 1];
        int at = 0;
        for (int i = 0; i < n; i++) {
            out[i] = at;
            at += Character.charCount(text.codePointAt(at));
        }
        out[n] = at;
        return out;
    }

    /**
     * Tokens of {@code text} with the model's special tokens: BOS (and EOS) as tokenizer.json's post-processor
     * and tokenizer_config.json's {@code add_bos_token}/{@code add_eos_token} say, never two BOS.
     */
    public long[] encode(String text) {
        long[] ids = tokenizer.encode(text, true, false).getIds();
        List<Long> out = new ArrayList<>(ids.length + 2);
        for (long id : ids) out.add(id);
        if (bosId != null) {
            if (Boolean.TRUE.equals(addBos) && (out.isEmpty() || out.get(0) != bosId.longValue())) out.add(0, bosId);
            if (Boolean.FALSE.equals(addBos) && !out.isEmpty() && out.get(0) == bosId.longValue() && !startsWithBos(text)) out.remove(0);
            if (out.size() >= 2 && out.get(0) == bosId.longValue() && out.get(1) == bosId.longValue() && !warnedBos) {
                warnedBos = true;
                LOG.warn("{}: a text starts with the BOS string '{}'; transformers would add a second BOS in front of it, qoft4j keeps one "
                        + "(remove it from the data to silence this; shown once)", source, specialTokens.get("bos_token"));
            }
            while (out.size() >= 2 && out.get(0) == bosId.longValue() && out.get(1) == bosId.longValue()) out.remove(0); // no double BOS
        }
        if (eosId != null && Boolean.TRUE.equals(addEos) && (out.isEmpty() || out.get(out.size() - 1) != eosId.longValue())) out.add(eosId);
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    /** True when {@link #encode} puts BOS in front of text that does not already start with it. */
    public boolean addsBos() {
        long[] ids = encode("a");
        return bosId != null && ids.length > 0 && ids[0] == bosId;
    }

    private boolean startsWithBos(String text) {
        String bos = specialTokens.get("bos_token");
        return bos != null && text.startsWith(bos);
    }

    /** Text of {@code ids}, cleaned up as transformers' {@code decode} does when tokenizer_config sets clean_up_tokenization_spaces. */
    public String decode(long[] ids, boolean skipSpecialTokens) {
        String text = tokenizer.decode(ids, skipSpecialTokens);
        return cleanUpSpaces ? cleanUpTokenization(text) : text;
    }

    /** transformers' {@code clean_up_tokenization}: no space before . ? ! , and English contractions. */
    public static String cleanUpTokenization(String s) {
        return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'").replace(" n't", "n't")
                .replace(" 'm", "'m").replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re");
    }

    /** The chat template rendered to text, as transformers renders it; a template that rejects the conversation is an IllegalArgumentException with its message. */
    public String applyChatTemplate(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return applyChatTemplate(messages.stream().map(ChatMessage::asMap).toList(),
                ChatTemplateRenderer.Options.create().addGenerationPrompt(addGenerationPrompt));
    }

    /**
     * Messages as the template sees them (role, content, and any other key: {@code tool_calls},
     * {@code reasoning_content}, ...) with the template's keyword arguments ({@code tools}, {@code documents},
     * {@code enable_thinking}, ...).
     */
    public String applyChatTemplate(List<? extends Map<String, ?>> messages, ChatTemplateRenderer.Options options) {
        try {
            return chatTemplate().render(messages, options);
        } catch (TemplateException e) {
            throw new IllegalArgumentException("chat template failed: " + e.getMessage(), e);
        }
    }

    /** The rendered conversation's tokens; the template supplies BOS and turn markers, so nothing is added. */
    public long[] encodeChat(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return encodeRaw(applyChatTemplate(messages, addGenerationPrompt));
    }

    /**
     * Tokens that end generation: the model config's EOS ids, generation_config.json's {@code eos_token_id} (an
     * int or a list) in {@code modelDir} when present, and this tokenizer's EOS token.
     */
    public Set<Long> stopTokenIds(List<Long> configEos, Path modelDir) {
        Set<Long> s = new LinkedHashSet<>(configEos);
        Path gen = modelDir.resolve("generation_config.json");
        if (Files.isRegularFile(gen)) {
            try {
                JsonNode e = JSON.readTree(gen.toFile()).get("eos_token_id");
                if (e != null && e.isArray()) e.forEach(x -> s.add(x.asLong()));
                else if (e != null && e.isNumber()) s.add(e.asLong());
            } catch (IOException ex) {
                throw new TokenizerException(gen + ": not valid JSON: " + ex.getMessage(), ex);
            }
        }
        if (eosId != null) s.add(eosId);
        return s;
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    @Override
    public String toString() {
        return "TextTokenizer(" + source + ", specials " + specialTokens.keySet() + ", chat template " + (chatTemplate != null) + ")";
    }
}
