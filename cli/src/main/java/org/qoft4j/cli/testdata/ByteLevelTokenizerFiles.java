package org.qoft4j.cli.testdata;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A byte-level BPE tokenizer in Hugging Face's {@code tokenizer.json} format (GPT-2's byte-to-unicode alphabet,
 * no merges), plus {@code tokenizer_config.json} with special tokens and a chat template. Ids: 0 {@code <pad>},
 * 1 {@code <s>}, 2 {@code </s>}, then the 256 bytes in order (byte b has id 3 + b).
 */
final class ByteLevelTokenizerFiles {
    static final int VOCAB_SIZE = 3 + 256;
    static final long PAD = 0, BOS = 1, EOS = 2;

    /**
     * User turns render as {@code "<request> ="}, assistant turns as {@code " <answer></s>"}. The generation
     * prompt adds nothing, so the prompt is an exact prefix of the full conversation (which the data pipeline
     * needs to mask prompt tokens).
     */
    static final String CHAT_TEMPLATE = "{{ bos_token }}{% for message in messages %}"
            + "{% if message['role'] == 'user' %}{{ message['content'] }} ="
            + "{% elif message['role'] == 'assistant' %} {{ message['content'] }}{{ eos_token }}"
            + "{% else %}{{ raise_exception('only user and assistant roles are supported') }}{% endif %}"
            + "{% endfor %}";

    private ByteLevelTokenizerFiles() {}

    static ObjectNode tokenizerJson(ObjectMapper json) {
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        String[] specials = {"<pad>", "<s>", "</s>"};
        for (int i = 0; i < specials.length; i++) {
            ObjectNode t = added.addObject();
            t.put("id", i).put("content", specials[i]).put("single_word", false).put("lstrip", false).put("rstrip", false)
                    .put("normalized", false).put("special", true);
        }
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", true);
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode st = post.putObject("special_tokens").putObject("<s>");
        st.put("id", "<s>");
        st.putArray("ids").add(BOS);
        st.putArray("tokens").add("<s>");
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true).put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        model.putNull("unk_token").putNull("continuing_subword_prefix").putNull("end_of_word_suffix");
        model.put("fuse_unk", false).put("byte_fallback", false).put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < specials.length; i++) vocab.put(specials[i], i);
        List<String> alphabet = byteAlphabet();
        for (int b = 0; b < 256; b++) vocab.put(alphabet.get(b), 3 + b);
        model.putArray("merges");
        return root;
    }

    static ObjectNode tokenizerConfig(ObjectMapper json) {
        ObjectNode c = json.createObjectNode();
        c.put("tokenizer_class", "PreTrainedTokenizerFast");
        c.put("bos_token", "<s>").put("eos_token", "</s>").put("pad_token", "<pad>");
        c.put("add_bos_token", true).put("add_eos_token", false);
        c.put("model_max_length", 256);
        c.put("chat_template", CHAT_TEMPLATE);
        return c;
    }

    /** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to code points from 256 upwards. */
    static List<String> byteAlphabet() {
        List<String> out = new ArrayList<>(256);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            out.add(new String(Character.toChars(printable ? b : 256 + extra++)));
        }
        return out;
    }
}
