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

/**
 * A model's tokenizer: {@code tokenizer.json} through DJL's binding of Hugging Face tokenizers (offline), plus
 * what {@code tokenizer_config.json} adds — the special tokens, {@code add_bos_token} / {@code add_eos_token}
 * and the chat template (or {@code chat_template.jinja}).
 *
 * <p>BOS is never doubled: text (or a rendered template) that already starts with the BOS token keeps just
 * that one. Rendered chat templates are tokenized without adding special tokens, as transformers does.
 */
public final class TextTokenizer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

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
    private final ChatTemplateRenderer chatTemplate; // null when the model has none

    private TextTokenizer(Path source, HuggingFaceTokenizer tokenizer, JsonNode config, Object template) {
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
        this.addBos = config.has("add_bos_token") && config.get("add_bos_token").isBoolean() ? config.get("add_bos_token").asBoolean() : null;
        this.addEos = config.has("add_eos_token") && config.get("add_eos_token").isBoolean() ? config.get("add_eos_token").asBoolean() : null;
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
        return new TextTokenizer(dir, tok, config, template);
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

    public String decode(long[] ids, boolean skipSpecialTokens) {
        return tokenizer.decode(ids, skipSpecialTokens);
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
