package org.qoft4j.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The {@code tokenizer.*} metadata of a GGUF file, from a Hugging Face model directory's {@code tokenizer.json},
 * {@code tokenizer_config.json} (and {@code chat_template.jinja}, {@code config.json},
 * {@code generation_config.json}); the rules are llama.cpp's converter's (docs/GGUF.md):
 * <ul>
 *   <li>byte-level BPE (a ByteLevel pre-tokenizer/decoder): {@code tokenizer.ggml.model = gpt2}, the tokens as
 *       stored (byte-level characters), token types (added special tokens CONTROL, other added tokens USER_DEFINED),
 *       the merges ("a b"), and {@code tokenizer.ggml.pre} — the pre-tokenizer llama.cpp must run — recognized from
 *       the pre-tokenizer's definition: Llama 3's split regex -> {@code llama-bpe}, Qwen2's -> {@code qwen2},
 *       SmolLM's digits + ByteLevel -> {@code smollm}, a plain ByteLevel (GPT-2's regex, e.g. the test-data model)
 *       -> {@code gpt-2};</li>
 *   <li>SentencePiece-style BPE (byte fallback, "▁" for spaces; Llama 2, TinyLlama, Mistral):
 *       {@code tokenizer.ggml.model = llama}, pre {@code default}, tokens, types ({@code <0xXX>} BYTE, the unknown
 *       token UNKNOWN, special CONTROL), scores, and {@code add_space_prefix};</li>
 *   <li>special token ids (bos, eos, unknown, padding, and the end-of-turn token when the model stops on one besides
 *       eos), {@code add_bos_token} / {@code add_eos_token}, and {@code tokenizer.chat_template}.</li>
 * </ul>
 * Scores of SentencePiece-style tokens: llama.cpp merges the adjacent pair whose merged token scores highest; a
 * tokenizer.json has merge ranks instead, so a token made by the merge of rank r scores -r (the first merge
 * highest), which makes llama.cpp merge in Hugging Face's order. Anything else — WordPiece, Unigram, a byte-level
 * pre-tokenizer llama.cpp does not have — is a {@link GgufFormatException} naming the file and what was found.
 */
public final class GgufVocabulary {
    /** llama.cpp's token types. */
    static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final Pattern BYTE_TOKEN = Pattern.compile("<0x[0-9A-Fa-f]{2}>");
    /** Token texts llama.cpp itself treats as end of turn (it stops on them whatever the metadata says). */
    private static final Set<String> END_OF_TURN = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_turn|>",
            "<|eom_id|>", "<EOT>", "</s>");

    private final String model;
    private final String pre;
    private final Map<String, GgufValue> metadata;
    private final List<String> notes;
    private final Map<String, Integer> specialIds;
    private final String chatTemplate;

    private GgufVocabulary(String model, String pre, Map<String, GgufValue> metadata, List<String> notes, Map<String, Integer> specialIds,
                           String chatTemplate) {
        this.model = model;
        this.pre = pre;
        this.metadata = metadata;
        this.notes = notes;
        this.specialIds = specialIds;
        this.chatTemplate = chatTemplate;
    }

    /** {@code tokenizer.ggml.model}: gpt2 or llama. */
    public String model() {
        return model;
    }

    /** {@code tokenizer.ggml.pre}. */
    public String pre() {
        return pre;
    }

    public Map<String, GgufValue> metadata() {
        return metadata;
    }

    public List<String> notes() {
        return notes;
    }

    /** bos, eos, unk, pad, eot ids that were found. */
    public Map<String, Integer> specialIds() {
        return specialIds;
    }

    /** The chat template written, or null. */
    public String chatTemplate() {
        return chatTemplate;
    }

    /**
     * Reads the tokenizer of the model directory {@code dir}.
     *
     * @param vocabSize rows of the model's embedding ({@code vocab_size}): the token list is padded to it with
     *                  {@code [PADn]} tokens of type UNUSED, and a tokenizer with more tokens is an error
     */
    public static GgufVocabulary read(Path dir, int vocabSize, List<Long> modelEosIds) {
        Path tj = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tj))
            throw new GgufFormatException(tj + ": not found; a GGUF file carries the tokenizer, which qoft4j reads from tokenizer.json "
                    + "(a tokenizer.model alone is not supported)");
        JsonNode tok = readJson(tj);
        JsonNode cfg = Files.isRegularFile(dir.resolve("tokenizer_config.json")) ? readJson(dir.resolve("tokenizer_config.json")) : JSON.createObjectNode();
        JsonNode m = tok.path("model");
        String type = m.path("type").asText("");
        if (!type.equals("BPE"))
            throw new GgufFormatException(tj + ": a " + (type.isEmpty() ? "tokenizer without a model type" : type + " tokenizer")
                    + " cannot be expressed in GGUF by qoft4j (supported: byte-level BPE -> gpt2, SentencePiece-style BPE with byte_fallback -> llama)");
        boolean spm = m.path("byte_fallback").asBoolean(false);
        boolean byteLevel = mentionsType(tok.path("pre_tokenizer"), "ByteLevel") || mentionsType(tok.path("decoder"), "ByteLevel");
        if (!spm && !byteLevel)
            throw new GgufFormatException(tj + ": a BPE tokenizer with neither byte_fallback (SentencePiece style) nor a ByteLevel pre-tokenizer "
                    + "cannot be expressed in GGUF (llama.cpp has gpt2 and llama BPE vocabularies)");

        // tokens by id: the model's vocab, then added tokens (which may extend it)
        Map<Integer, String> byId = new HashMap<>();
        m.path("vocab").fields().forEachRemaining(e -> byId.put(e.getValue().asInt(), e.getKey()));
        Map<Integer, JsonNode> added = new LinkedHashMap<>();
        for (JsonNode a : tok.path("added_tokens")) {
            added.put(a.path("id").asInt(), a);
            byId.put(a.path("id").asInt(), a.path("content").asText());
        }
        int maxId = byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1);
        if (maxId >= vocabSize)
            throw new GgufFormatException(tj + ": token id " + maxId + " (" + byId.get(maxId) + ") is outside the model's vocab_size " + vocabSize
                    + " (the embedding has " + vocabSize + " rows)");
        List<String> notes = new ArrayList<>();
        if (byId.size() < vocabSize) notes.add((vocabSize - byId.size()) + " embedding rows have no token; written as [PADn] tokens (type UNUSED)");

        Map<String, Integer> merged = mergedTokens(m, tj);
        String unk = m.path("unk_token").isTextual() ? m.path("unk_token").asText() : null;
        List<String> tokens = new ArrayList<>(vocabSize);
        int[] types = new int[vocabSize];
        float[] scores = new float[vocabSize];
        for (int id = 0; id < vocabSize; id++) {
            String t = byId.get(id);
            if (t == null) {
                tokens.add("[PAD" + id + "]");
                types[id] = UNUSED;
                scores[id] = -10000f;
                continue;
            }
            tokens.add(t);
            JsonNode a = added.get(id);
            if (spm && t.equals(unk)) types[id] = UNKNOWN;
            else if (a != null) types[id] = a.path("special").asBoolean(false) || looksSpecial(t) ? CONTROL : USER_DEFINED;
            else if (spm && BYTE_TOKEN.matcher(t).matches()) types[id] = BYTE;
            else types[id] = NORMAL;
            if (spm) {
                Integer rank = merged.get(t);
                scores[id] = a != null ? -1000f : rank != null ? -rank : 0f;
            }
        }
        if (spm && unk != null && byId.values().stream().noneMatch(unk::equals))
            throw new GgufFormatException(tj + ": unk_token '" + unk + "' is not in the vocabulary");

        Map<String, GgufValue> md = new LinkedHashMap<>();
        String pre;
        if (spm) {
            pre = "default";
            md.put("tokenizer.ggml.model", GgufValue.string("llama"));
            md.put("tokenizer.ggml.pre", GgufValue.string(pre));
            md.put("tokenizer.ggml.tokens", GgufValue.strings(tokens));
            md.put("tokenizer.ggml.scores", GgufValue.float32s(scores));
            md.put("tokenizer.ggml.token_type", GgufValue.int32s(types));
            md.put("tokenizer.ggml.add_space_prefix", GgufValue.bool(addsSpacePrefix(tok)));
        } else {
            pre = byteLevelPre(tok, tj);
            md.put("tokenizer.ggml.model", GgufValue.string("gpt2"));
            md.put("tokenizer.ggml.pre", GgufValue.string(pre));
            md.put("tokenizer.ggml.tokens", GgufValue.strings(tokens));
            md.put("tokenizer.ggml.token_type", GgufValue.int32s(types));
            md.put("tokenizer.ggml.merges", GgufValue.strings(merges(m, tj)));
        }

        // special tokens: tokenizer_config.json's (matched against the added tokens), then config.json's *_token_id
        Map<String, Integer> special = new LinkedHashMap<>();
        JsonNode modelConfig = Files.isRegularFile(dir.resolve("config.json")) ? readJson(dir.resolve("config.json")) : JSON.createObjectNode();
        for (String typ : List.of("bos", "eos", "unk", "pad")) {
            String content = tokenString(cfg.get(typ + "_token"));
            Integer id = null;
            if (content != null)
                for (Map.Entry<Integer, JsonNode> a : added.entrySet()) if (a.getValue().path("content").asText().equals(content)) id = a.getKey();
            if (id == null && modelConfig.path(typ + "_token_id").canConvertToInt()) id = modelConfig.get(typ + "_token_id").asInt();
            if (id != null && id >= 0 && id < vocabSize) special.put(typ, id);
        }
        if (!special.containsKey("unk") && spm && unk != null)
            for (int id = 0; id < vocabSize; id++) if (unk.equals(byId.get(id))) special.put("unk", id);
        Integer eot = endOfTurn(dir, modelEosIds, special.get("eos"), byId, types);
        if (eot != null) special.put("eot", eot);
        String[][] keys = {{"bos", "bos_token_id"}, {"eos", "eos_token_id"}, {"eot", "eot_token_id"}, {"unk", "unknown_token_id"}, {"pad", "padding_token_id"}};
        for (String[] k : keys) if (special.containsKey(k[0])) md.put("tokenizer.ggml." + k[1], GgufValue.uint32(special.get(k[0])));

        Boolean[] addBosEos = postProcessorAdds(tok, cfg);
        if (cfg.path("add_bos_token").isBoolean()) addBosEos[0] = cfg.get("add_bos_token").asBoolean();
        if (cfg.path("add_eos_token").isBoolean()) addBosEos[1] = cfg.get("add_eos_token").asBoolean();
        if (addBosEos[0] != null) md.put("tokenizer.ggml.add_bos_token", GgufValue.bool(addBosEos[0]));
        if (addBosEos[1] != null) md.put("tokenizer.ggml.add_eos_token", GgufValue.bool(addBosEos[1]));

        String template = chatTemplate(dir, cfg, md);
        return new GgufVocabulary(spm ? "llama" : "gpt2", pre, md, List.copyOf(notes), special, template);
    }

    private static JsonNode readJson(Path p) {
        try {
            JsonNode n = JSON.readTree(p.toFile());
            if (n == null || !n.isObject()) throw new GgufFormatException(p + ": expected a JSON object");
            return n;
        } catch (IOException e) {
            throw new GgufFormatException(p + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    private static boolean mentionsType(JsonNode n, String type) {
        if (n == null || n.isNull() || n.isMissingNode()) return false;
        if (type.equals(n.path("type").asText())) return true;
        for (JsonNode c : n.path("pretokenizers")) if (mentionsType(c, type)) return true;
        for (JsonNode c : n.path("decoders")) if (mentionsType(c, type)) return true;
        return false;
    }

    /** The merges as "a b" lines (a pair given as a list has spaces inside its parts written as U+0120, as the converter does). */
    private static List<String> merges(JsonNode m, Path file) {
        List<String> out = new ArrayList<>();
        for (JsonNode x : m.path("merges")) {
            if (x.isTextual()) out.add(x.asText());
            else if (x.isArray() && x.size() == 2 && x.get(0).isTextual() && x.get(1).isTextual())
                out.add(x.get(0).asText().replace(' ', '\u0120') + " " + x.get(1).asText().replace(' ', '\u0120'));
            else throw new GgufFormatException(file + ": a merge is neither \"a b\" nor [\"a\", \"b\"]: " + x);
        }
        return out;
    }

    /** Token made by each merge -> the rank of the first merge that makes it. */
    private static Map<String, Integer> mergedTokens(JsonNode m, Path file) {
        Map<String, Integer> out = new HashMap<>();
        List<String> merges = merges(m, file);
        for (int r = 0; r < merges.size(); r++) {
            String s = merges.get(r);
            int sp = s.indexOf(' ');
            if (sp < 0) throw new GgufFormatException(file + ": merge #" + r + " '" + s + "' has no space between its two parts");
            out.putIfAbsent(s.substring(0, sp) + s.substring(sp + 1), r);
        }
        return out;
    }

    private static boolean looksSpecial(String t) {
        return (t.startsWith("<|") && t.endsWith("|>")) || t.equals("<pad>") || t.equals("<mask>") || (t.startsWith("<unused") && t.endsWith(">"));
    }

    /** llama.cpp's pre-tokenizer name for a byte-level BPE tokenizer, recognized from tokenizer.json's pre_tokenizer. */
    private static String byteLevelPre(JsonNode tok, Path file) {
        JsonNode p = tok.path("pre_tokenizer");
        JsonNode norm = tok.path("normalizer");
        if (!norm.isNull() && !norm.isMissingNode() && !norm.path("type").asText().equals("NFC"))
            throw new GgufFormatException(file + ": the normalizer " + norm.path("type").asText() + " cannot be expressed in GGUF "
                    + "(llama.cpp's byte-level BPE applies none)");
        List<JsonNode> parts = new ArrayList<>();
        if (p.path("type").asText().equals("Sequence")) p.path("pretokenizers").forEach(parts::add);
        else parts.add(p);
        String shape = describe(parts);
        if (parts.size() == 1 && isByteLevel(parts.get(0), true)) return "gpt-2";
        if (parts.size() == 2 && isByteLevel(parts.get(1), false) && parts.get(0).path("type").asText().equals("Split")) {
            String regex = parts.get(0).path("pattern").path("Regex").asText("");
            if (regex.equals(LLAMA3_SPLIT)) return "llama-bpe";
            if (regex.equals(QWEN2_SPLIT)) return "qwen2";
        }
        if (parts.size() == 2 && parts.get(0).path("type").asText().equals("Digits") && parts.get(0).path("individual_digits").asBoolean(false)
                && isByteLevel(parts.get(1), true))
            return "smollm";
        throw new GgufFormatException(file + ": the byte-level pre-tokenizer " + shape + " is not one qoft4j can name for llama.cpp "
                + "(recognized: ByteLevel -> gpt-2, Llama 3's Split + ByteLevel -> llama-bpe, Qwen2's Split + ByteLevel -> qwen2, "
                + "Digits + ByteLevel -> smollm)");
    }

    private static boolean isByteLevel(JsonNode n, boolean regex) {
        return n.path("type").asText().equals("ByteLevel") && n.path("use_regex").asBoolean(true) == regex && !n.path("add_prefix_space").asBoolean(false);
    }

    private static String describe(List<JsonNode> parts) {
        List<String> s = new ArrayList<>();
        for (JsonNode n : parts) s.add(n.path("type").asText("?") + (n.has("use_regex") ? "(use_regex=" + n.get("use_regex").asBoolean() + ")" : ""));
        return s.toString();
    }

    /** SentencePiece-style tokenizers put "▁" before the text: a Prepend normalizer or a Metaspace that prepends. */
    private static boolean addsSpacePrefix(JsonNode tok) {
        JsonNode n = tok.path("normalizer");
        List<JsonNode> norms = new ArrayList<>();
        if (n.path("type").asText().equals("Sequence")) n.path("normalizers").forEach(norms::add);
        else norms.add(n);
        for (JsonNode x : norms) if (x.path("type").asText().equals("Prepend") && x.path("prepend").asText().equals("\u2581")) return true;
        JsonNode p = tok.path("pre_tokenizer");
        List<JsonNode> pres = new ArrayList<>();
        if (p.path("type").asText().equals("Sequence")) p.path("pretokenizers").forEach(pres::add);
        else pres.add(p);
        for (JsonNode x : pres)
            if (x.path("type").asText().equals("Metaspace"))
                return x.has("prepend_scheme") ? !x.get("prepend_scheme").asText().equals("never") : x.path("add_prefix_space").asBoolean(true);
        return false;
    }

    private static String tokenString(JsonNode v) {
        if (v == null || v.isNull()) return null;
        if (v.isTextual()) return v.asText();
        if (v.isObject() && v.path("content").isTextual()) return v.get("content").asText();
        return null;
    }

    /** Whether tokenizer.json's TemplateProcessing post-processor puts a special token first (BOS) / last (EOS) of a single sequence. */
    private static Boolean[] postProcessorAdds(JsonNode tok, JsonNode cfg) {
        Boolean[] out = {null, null};
        JsonNode pp = tok.path("post_processor");
        List<JsonNode> procs = new ArrayList<>();
        if (pp.path("type").asText().equals("Sequence")) pp.path("processors").forEach(procs::add);
        else procs.add(pp);
        String bos = tokenString(cfg.get("bos_token")), eos = tokenString(cfg.get("eos_token"));
        for (JsonNode p : procs) {
            if (!p.path("type").asText().equals("TemplateProcessing")) continue;
            JsonNode single = p.path("single");
            if (single.size() > 1) {
                String first = single.get(0).path("SpecialToken").path("id").asText(null);
                String last = single.get(single.size() - 1).path("SpecialToken").path("id").asText(null);
                if (first != null) out[0] = bos == null || first.equals(bos);
                if (last != null) out[1] = eos == null || last.equals(eos);
            }
            if (out[0] == null) out[0] = false;
            if (out[1] == null) out[1] = false;
        }
        return out;
    }

    /**
     * The end-of-turn token: one the model stops on besides eos (config.json's / generation_config.json's
     * {@code eos_token_id}) whose text llama.cpp knows as an end of turn; null when there is none.
     */
    private static Integer endOfTurn(Path dir, List<Long> modelEos, Integer eos, Map<Integer, String> byId, int[] types) {
        List<Long> stops = new ArrayList<>(modelEos);
        Path gen = dir.resolve("generation_config.json");
        if (Files.isRegularFile(gen)) {
            JsonNode e = readJson(gen).get("eos_token_id");
            if (e != null && e.isArray()) e.forEach(x -> stops.add(x.asLong()));
            else if (e != null && e.canConvertToLong()) stops.add(e.asLong());
        }
        for (long s : stops) {
            if (s < 0 || s >= types.length || (eos != null && s == eos)) continue;
            String t = byId.get((int) s);
            if (t != null && types[(int) s] == CONTROL && END_OF_TURN.contains(t)) return (int) s;
        }
        return null;
    }

    /** tokenizer_config.json's chat_template (a string, or named templates), else chat_template.jinja; written into {@code md}. */
    private static String chatTemplate(Path dir, JsonNode cfg, Map<String, GgufValue> md) {
        JsonNode t = cfg.get("chat_template");
        String main = null;
        if (t != null && t.isTextual()) {
            main = t.asText();
        } else if (t != null && t.isArray()) {
            for (JsonNode n : t) {
                String name = n.path("name").asText(), src = n.path("template").asText(null);
                if (src == null) continue;
                if (name.equals("default")) main = src;
                else md.put("tokenizer.chat_template." + name, GgufValue.string(src));
            }
        } else {
            Path jinja = dir.resolve("chat_template.jinja");
            if (Files.isRegularFile(jinja)) {
                try {
                    main = Files.readString(jinja);
                } catch (IOException e) {
                    throw new GgufFormatException(jinja + ": cannot read: " + e.getMessage(), e);
                }
            }
        }
        if (main != null) md.put("tokenizer.chat_template", GgufValue.string(main));
        return main;
    }
}
