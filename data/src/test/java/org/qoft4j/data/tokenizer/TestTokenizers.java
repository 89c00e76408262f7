package org.qoft4j.data.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Small byte-level BPE tokenizers written as tokenizer.json in a test: token id {@code b} is byte {@code b}
 * (GPT-2's byte-to-unicode alphabet), then the merges {@code u+s=256, us+e=257, Ġ+t=258}, then the special
 * tokens in the order given (259, 260, ...). So expected ids can be written by hand: bytes, with " t" -> 258,
 * "use" -> 257, "us" -> 256.
 */
public final class TestTokenizers {
    static final ObjectMapper JSON = new ObjectMapper();
    public static final String[][] MERGES = {{"u", "s"}, {"us", "e"}, {"Ġ", "t"}};
    public static final int FIRST_SPECIAL = 256 + MERGES.length;

    public static final String LLAMA3_TEMPLATE = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
            + "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
            + "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
            + "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

    /** Qwen2.5-Instruct's chat template (tools branch included). */
    public static final String QWEN25_TEMPLATE = String.join("\n",
            "{%- if tools %}",
            "    {{- '<|im_start|>system\\n' }}",
            "    {%- if messages[0]['role'] == 'system' %}",
            "        {{- messages[0]['content'] }}",
            "    {%- else %}",
            "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}",
            "    {%- endif %}",
            "    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}",
            "    {%- for tool in tools %}",
            "        {{- \"\\n\" }}",
            "        {{- tool | tojson }}",
            "    {%- endfor %}",
            "    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}",
            "{%- else %}",
            "    {%- if messages[0]['role'] == 'system' %}",
            "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}",
            "    {%- else %}",
            "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}",
            "    {%- endif %}",
            "{%- endif %}",
            "{%- for message in messages %}",
            "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\" and not message.tool_calls) %}",
            "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}",
            "    {%- elif message.role == \"assistant\" %}",
            "        {{- '<|im_start|>' + message.role }}",
            "        {%- if message.content %}",
            "            {{- '\\n' + message.content }}",
            "        {%- endif %}",
            "        {%- for tool_call in message.tool_calls %}",
            "            {%- if tool_call.function is defined %}",
            "                {%- set tool_call = tool_call.function %}",
            "            {%- endif %}",
            "            {{- '\\n<tool_call>\\n{\"name\": \"' }}",
            "            {{- tool_call.name }}",
            "            {{- '\", \"arguments\": ' }}",
            "            {{- tool_call.arguments | tojson }}",
            "            {{- '}\\n</tool_call>' }}",
            "        {%- endfor %}",
            "        {{- '<|im_end|>\\n' }}",
            "    {%- elif message.role == \"tool\" %}",
            "        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}",
            "            {{- '<|im_start|>user' }}",
            "        {%- endif %}",
            "        {{- '\\n<tool_response>\\n' }}",
            "        {{- message.content }}",
            "        {{- '\\n</tool_response>' }}",
            "        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}",
            "            {{- '<|im_end|>\\n' }}",
            "        {%- endif %}",
            "    {%- endif %}",
            "{%- endfor %}",
            "{%- if add_generation_prompt %}",
            "    {{- '<|im_start|>assistant\\n' }}",
            "{%- endif %}",
            "");

    /** Llama-2-chat's template: rejects non-alternating roles with raise_exception. */
    public static final String LLAMA2_TEMPLATE = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
            + "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
            + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
            + "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
            + "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
            + "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    private TestTokenizers() {}

    /** GPT-2's byte -> printable unicode character table. */
    static char[] byteToUnicode() {
        List<Integer> bs = new ArrayList<>();
        for (int b = '!'; b <= '~'; b++) bs.add(b);
        for (int b = 0xA1; b <= 0xAC; b++) bs.add(b);
        for (int b = 0xAE; b <= 0xFF; b++) bs.add(b);
        char[] map = new char[256];
        for (int b : bs) map[b] = (char) b;
        int n = 0;
        for (int b = 0; b < 256; b++) if (!bs.contains(b)) map[b] = (char) (256 + n++);
        return map;
    }

    /**
     * Writes {@code dir/tokenizer.json} (byte-level BPE with {@code specials}; when {@code bosPostProcessor} is
     * set, the post-processor prepends {@code specials[0]} like Llama 3's) and {@code dir/tokenizer_config.json}.
     */
    public static Path write(Path dir, List<String> specials, boolean bosPostProcessor, Map<String, Object> tokenizerConfig) throws IOException {
        Files.createDirectories(dir);
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        ObjectNode vocab = JSON.createObjectNode();
        char[] b2u = byteToUnicode();
        for (int b = 0; b < 256; b++) vocab.put(String.valueOf(b2u[b]), b);
        int id = 256;
        for (String[] m : MERGES) vocab.put(m[0] + m[1], id++);
        for (String s : specials) {
            ObjectNode t = added.addObject();
            t.put("id", id);
            t.put("content", s);
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
            vocab.put(s, id++);
        }
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel");
        pre.put("add_prefix_space", false);
        pre.put("trim_offsets", true);
        pre.put("use_regex", true);
        if (bosPostProcessor) {
            ObjectNode post = root.putObject("post_processor");
            post.put("type", "TemplateProcessing");
            ArrayNode single = post.putArray("single");
            single.addObject().putObject("SpecialToken").put("id", specials.get(0)).put("type_id", 0);
            single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
            ArrayNode pair = post.putArray("pair");
            pair.addObject().putObject("SpecialToken").put("id", specials.get(0)).put("type_id", 0);
            pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
            pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
            ObjectNode bos = post.putObject("special_tokens").putObject(specials.get(0));
            bos.put("id", specials.get(0));
            bos.putArray("ids").add(FIRST_SPECIAL);
            bos.putArray("tokens").add(specials.get(0));
        } else {
            ObjectNode post = root.putObject("post_processor");
            post.put("type", "ByteLevel");
            post.put("add_prefix_space", false);
            post.put("trim_offsets", false);
            post.put("use_regex", false);
        }
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "ByteLevel");
        dec.put("add_prefix_space", true);
        dec.put("trim_offsets", true);
        dec.put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        model.set("vocab", vocab);
        ArrayNode merges = model.putArray("merges");
        for (String[] m : MERGES) merges.add(m[0] + " " + m[1]);
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), root);
        JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), tokenizerConfig);
        return dir;
    }

    /** A Llama-3-style tokenizer (BOS by post-processor, Llama 3 chat template). Special ids: 259 BOS, 260 EOS, 261 start, 262 end, 263 eot. */
    public static Path llama3(Path dir) throws IOException {
        return write(dir, List.of("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"), true,
                Map.of("bos_token", "<|begin_of_text|>", "eos_token", "<|eot_id|>", "chat_template", LLAMA3_TEMPLATE));
    }

    /** A Qwen-style tokenizer (no BOS, ChatML template). Special ids: 259 endoftext (pad), 260 im_start, 261 im_end (EOS). */
    public static Path qwen(Path dir) throws IOException {
        java.util.Map<String, Object> cfg = new java.util.HashMap<>();
        cfg.put("bos_token", null);
        cfg.put("eos_token", "<|im_end|>");
        cfg.put("pad_token", "<|endoftext|>");
        cfg.put("chat_template", QWEN25_TEMPLATE);
        return write(dir, List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>"), false, cfg);
    }

    /** The byte ids of ASCII/UTF-8 text with no merges applicable (the caller makes sure). */
    public static long[] bytes(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        long[] ids = new long[b.length];
        for (int i = 0; i < b.length; i++) ids[i] = b[i] & 0xFF;
        return ids;
    }

    /** Concatenates ids, long[] pieces and Strings (as {@link #bytes}). */
    public static long[] ids(Object... parts) {
        List<Long> out = new ArrayList<>();
        for (Object p : parts) {
            if (p instanceof Integer i) out.add((long) i);
            else if (p instanceof Long l) out.add(l);
            else if (p instanceof long[] a) for (long x : a) out.add(x);
            else if (p instanceof String s) for (long x : bytes(s)) out.add(x);
            else throw new IllegalArgumentException("unsupported part " + p);
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }
}
