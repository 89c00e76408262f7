package org.qoft4j.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.qoft4j.data.TestData;

/**
 * Small tokenizer.json files of the kinds export-gguf maps, with real merges learned from a little English text by
 * plain BPE (most frequent adjacent pair first, ties by text): byte-level ones on the test-data byte alphabet with
 * GPT-2's, Llama 3's or Qwen2's pre-tokenizer, and a SentencePiece-style one (byte fallback, "▁" for spaces,
 * {@code <unk> <s> </s>}, the 256 {@code <0xXX>} tokens) like Llama 2's.
 */
final class Tokenizers {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String CORPUS = "the quick brown fox jumps over the lazy dog . the dog sleeps , the fox runs . "
            + "hello world ! there is nothing in the world that the brown fox does not know about the lazy dog . "
            + "numbers 123 and 4567 , 123 4567 again 123 4567 , words with apostrophes : it's we'll they've don't . the end";
    static final List<String> SAMPLES = List.of("the quick brown fox", "Hello World! 123 4567", "it's the end, isn't it?", "  two  spaces\nand a new line\n",
            "naïve café — ünïcödé ✓ 日本", "THE LAZY DOG", "x", "tabs\tand\r\nwindows lines", "the  fox's   dog");

    static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private Tokenizers() {}

    /** GPT-2's byte-to-character map (the alphabet of byte-level BPE). */
    static char[] byteChars() {
        List<Integer> bs = new ArrayList<>();
        for (int b = '!'; b <= '~'; b++) bs.add(b);
        for (int b = 0xA1; b <= 0xAC; b++) bs.add(b);
        for (int b = 0xAE; b <= 0xFF; b++) bs.add(b);
        char[] out = new char[256];
        for (int b : bs) out[b] = (char) b;
        int n = 0;
        for (int b = 0; b < 256; b++) if (!bs.contains(b)) out[b] = (char) (256 + n++);
        return out;
    }

    /** Learns {@code count} merges over the words (each a list of symbols), most frequent pair first. */
    static List<String[]> learnMerges(List<List<String>> words, int count) {
        List<String[]> merges = new ArrayList<>();
        for (int m = 0; m < count; m++) {
            Map<String, Integer> pairs = new TreeMap<>();
            for (List<String> w : words) for (int i = 0; i + 1 < w.size(); i++) pairs.merge(w.get(i) + "\u0000" + w.get(i + 1), 1, Integer::sum);
            String best = null;
            for (Map.Entry<String, Integer> e : pairs.entrySet()) if (best == null || e.getValue() > pairs.get(best)) best = e.getKey();
            if (best == null || pairs.get(best) < 2) break;
            String[] p = best.split("\u0000");
            merges.add(p);
            for (List<String> w : words)
                for (int i = 0; i + 1 < w.size(); i++)
                    if (w.get(i).equals(p[0]) && w.get(i + 1).equals(p[1])) {
                        w.set(i, p[0] + p[1]);
                        w.remove(i + 1);
                    }
        }
        return merges;
    }

    /** A byte-level BPE tokenizer: the test-data tokenizer's 259 tokens plus learned merges; {@code split} is null (GPT-2's ByteLevel regex) or a Split regex. */
    static ObjectNode byteLevel(String split, boolean ignoreMerges) {
        ObjectNode tok;
        try {
            tok = (ObjectNode) JSON.readTree(TestData.model().resolve("tokenizer.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        char[] bc = byteChars();
        List<List<String>> words = new ArrayList<>();
        for (String w : CORPUS.split(" ")) {
            List<String> s = new ArrayList<>();
            byte[] b = (" " + w).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            for (byte x : b) s.add(String.valueOf(bc[x & 0xFF]));
            words.add(s);
        }
        List<String[]> merges = learnMerges(words, 60);
        ObjectNode model = (ObjectNode) tok.get("model");
        ObjectNode vocab = (ObjectNode) model.get("vocab");
        int next = 259;
        ArrayNode ms = model.putArray("merges");
        for (String[] m : merges) {
            ms.add(m[0] + " " + m[1]);
            if (!vocab.has(m[0] + m[1])) vocab.put(m[0] + m[1], next++);
        }
        model.put("ignore_merges", ignoreMerges);
        if (split != null) {
            ObjectNode pre = tok.putObject("pre_tokenizer");
            pre.put("type", "Sequence");
            ArrayNode ps = pre.putArray("pretokenizers");
            ObjectNode s = ps.addObject();
            s.put("type", "Split");
            s.putObject("pattern").put("Regex", split);
            s.put("behavior", "Isolated");
            s.put("invert", false);
            ObjectNode bl = ps.addObject();
            bl.put("type", "ByteLevel");
            bl.put("add_prefix_space", false);
            bl.put("trim_offsets", true);
            bl.put("use_regex", false);
        }
        return tok;
    }

    /** SmolLM's pre-tokenizer: every digit alone, then GPT-2's ByteLevel regex. */
    static ObjectNode smolLm() {
        ObjectNode tok = byteLevel(null, false);
        ObjectNode pre = tok.putObject("pre_tokenizer");
        pre.put("type", "Sequence");
        ArrayNode ps = pre.putArray("pretokenizers");
        ps.addObject().put("type", "Digits").put("individual_digits", true);
        ps.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", true);
        return tok;
    }

    /** A SentencePiece-style BPE tokenizer (Llama 2's tokenizer.json layout). */
    static ObjectNode sentencePiece() {
        ObjectNode tok = JSON.createObjectNode();
        tok.put("version", "1.0");
        ArrayNode added = tok.putArray("added_tokens");
        String[] specials = {"<unk>", "<s>", "</s>"};
        for (int i = 0; i < 3; i++) {
            ObjectNode a = added.addObject();
            a.put("id", i);
            a.put("content", specials[i]);
            a.put("single_word", false);
            a.put("lstrip", false);
            a.put("rstrip", false);
            a.put("normalized", false);
            a.put("special", true);
        }
        ObjectNode norm = tok.putObject("normalizer");
        norm.put("type", "Sequence");
        ArrayNode ns = norm.putArray("normalizers");
        ns.addObject().put("type", "Prepend").put("prepend", "\u2581");
        ObjectNode rep = ns.addObject();
        rep.put("type", "Replace");
        rep.putObject("pattern").put("String", " ");
        rep.put("content", "\u2581");
        tok.putNull("pre_tokenizer");
        ObjectNode pp = tok.putObject("post_processor");
        pp.put("type", "TemplateProcessing");
        ArrayNode single = pp.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = pp.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        pp.putObject("special_tokens").putObject("<s>").put("id", "<s>").putArray("ids").add(1);
        ((ObjectNode) pp.get("special_tokens").get("<s>")).putArray("tokens").add("<s>");
        ObjectNode dec = tok.putObject("decoder");
        dec.put("type", "Sequence");
        ArrayNode ds = dec.putArray("decoders");
        ObjectNode r = ds.addObject();
        r.put("type", "Replace");
        r.putObject("pattern").put("String", "\u2581");
        r.put("content", " ");
        ds.addObject().put("type", "ByteFallback");
        ds.addObject().put("type", "Fuse");
        ds.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        ObjectNode model = tok.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", "<unk>");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        Map<String, Integer> ids = new LinkedHashMap<>();
        for (String s : specials) ids.put(s, ids.size());
        for (int b = 0; b < 256; b++) ids.put(String.format("<0x%02X>", b), ids.size());
        List<List<String>> words = new ArrayList<>();
        for (String w : CORPUS.split(" ")) {
            List<String> s = new ArrayList<>();
            ("\u2581" + w).codePoints().forEach(cp -> s.add(new String(Character.toChars(cp))));
            s.forEach(ch -> ids.putIfAbsent(ch, ids.size()));
            words.add(s);
        }
        List<String[]> merges = learnMerges(words, 80);
        ArrayNode ms = model.putArray("merges");
        for (String[] m : merges) {
            ms.add(m[0] + " " + m[1]);
            ids.putIfAbsent(m[0] + m[1], ids.size());
        }
        ids.forEach(vocab::put);
        return tok;
    }

    static int size(ObjectNode tok) {
        Map<Integer, Boolean> ids = new HashMap<>();
        tok.get("model").get("vocab").fields().forEachRemaining(e -> ids.put(e.getValue().asInt(), true));
        tok.get("added_tokens").forEach(a -> ids.put(a.get("id").asInt(), true));
        return ids.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
    }

    /** A random llama model directory with {@code tok} as its tokenizer (vocab_size = the tokenizer's size). */
    static Path modelWith(ObjectNode tok, ObjectNode tokenizerConfig, Path dir) {
        ObjectNode c = RandomModels.base("llama", "LlamaForCausalLM", 64, 64, 1, 2, 2);
        c.put("vocab_size", size(tok));
        RandomModels.write(org.qoft4j.model.LlamaConfig.parse(c, "tokenizer test model"), dir, 3);
        try {
            JSON.writeValue(dir.resolve("tokenizer.json").toFile(), tok);
            JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), tokenizerConfig);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    static ObjectNode config(String bos, String eos, boolean addBos) {
        ObjectNode c = JSON.createObjectNode();
        c.put("bos_token", bos);
        c.put("eos_token", eos);
        c.put("add_bos_token", addBos);
        return c;
    }

    static void overwrite(Path file, ObjectNode n) {
        try {
            Files.deleteIfExists(file);
            JSON.writeValue(file.toFile(), n);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
