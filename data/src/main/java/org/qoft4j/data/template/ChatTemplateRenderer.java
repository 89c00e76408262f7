package org.qoft4j.data.template;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face chat template applied as transformers' {@code tokenizer.apply_chat_template(messages, tokenize=False,
 * ...)} applies it: the template sees {@code messages}, {@code tools}, {@code documents},
 * {@code add_generation_prompt}, the tokenizer's special tokens ({@code bos_token}, {@code eos_token}, ...,
 * {@code additional_special_tokens}) and any extra keyword argument ({@code enable_thinking}, {@code date_string},
 * ...; extra arguments win over special tokens). {@code continue_final_message} renders the conversation with a
 * marker after the final message's text and cuts there, as transformers does.
 *
 * <p>Messages are maps of plain values (String, Number, Boolean, List, Map, null), so {@code tool_calls},
 * {@code reasoning_content} and any other field reach the template unchanged. Message text is always data.
 */
public final class ChatTemplateRenderer {
    /** transformers' continue_final_message marker (render_jinja_template). */
    static final String CONTINUE_TAG = "CONTINUE_FINAL_MESSAGE_TAG ";
    private static final List<String> SPECIAL_TOKEN_KEYS = List.of("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token");

    private final Map<String, String> namedSources;   // "default" for a single template
    private final Map<String, JinjaTemplate> compiled = new HashMap<>();
    private final Map<String, Object> specialTokens;
    private final Clock clock;

    private ChatTemplateRenderer(Map<String, String> namedSources, Map<String, Object> specialTokens, Clock clock) {
        this.namedSources = namedSources;
        this.specialTokens = specialTokens;
        this.clock = clock;
        for (Map.Entry<String, String> e : namedSources.entrySet()) compiled.put(e.getKey(), JinjaTemplate.compile(e.getValue()));
    }

    /**
     * chatTemplate: a template string, a list of {@code {"name": ..., "template": ...}} (tokenizer_config's form for
     * several templates) or a map name to template. specialTokens: {@code bos_token} etc. as strings or AddedToken
     * maps ({@code {"content": "<s>", ...}}), {@code additional_special_tokens} as a list.
     */
    public static ChatTemplateRenderer of(Object chatTemplate, Map<String, ?> specialTokens) {
        return new ChatTemplateRenderer(namedTemplates(chatTemplate, "chat_template"), specialTokenMap(specialTokens), Clock.systemDefaultZone());
    }

    /** From a parsed tokenizer_config.json: its {@code chat_template} and special tokens. */
    public static ChatTemplateRenderer fromTokenizerConfig(Map<String, ?> config) {
        Object tpl = config.get("chat_template");
        if (tpl == null) throw new IllegalArgumentException("tokenizer_config has no chat_template");
        return of(tpl, config);
    }

    /** From a tokenizer_config.json file. */
    public static ChatTemplateRenderer fromTokenizerConfig(Path tokenizerConfig) throws IOException {
        Map<String, Object> cfg = readJson(tokenizerConfig);
        Object tpl = cfg.get("chat_template");
        if (tpl == null) throw new IllegalArgumentException(tokenizerConfig + ": no \"chat_template\" key (expected a string or a list of {name, template})");
        try {
            return of(tpl, cfg);
        } catch (TemplateException e) {
            throw new IllegalArgumentException(tokenizerConfig + ": chat_template does not parse: " + e.getMessage(), e);
        }
    }

    /**
     * From a Hugging Face model directory: {@code chat_template.jinja} when present (newer transformers save the
     * template there), else {@code chat_template.json}'s, else tokenizer_config.json's; special tokens from
     * tokenizer_config.json.
     */
    public static ChatTemplateRenderer fromModelDir(Path dir) throws IOException {
        Path cfgFile = dir.resolve("tokenizer_config.json");
        Map<String, Object> cfg = Files.exists(cfgFile) ? readJson(cfgFile) : Map.of();
        Object tpl;
        if (Files.exists(dir.resolve("chat_template.jinja"))) tpl = Files.readString(dir.resolve("chat_template.jinja"));
        else if (Files.exists(dir.resolve("chat_template.json"))) tpl = readJson(dir.resolve("chat_template.json")).get("chat_template");
        else tpl = cfg.get("chat_template");
        if (tpl == null) throw new IllegalArgumentException(dir + ": no chat template (chat_template.jinja, chat_template.json or tokenizer_config.json's chat_template)");
        return of(tpl, cfg);
    }

    private static Map<String, Object> readJson(Path file) throws IOException {
        @SuppressWarnings("unchecked") Map<String, Object> m = new ObjectMapper().readValue(file.toFile(), LinkedHashMap.class);
        return m;
    }

    /** The same templates and tokens, with strftime_now reading this clock (tests fix the date). */
    public ChatTemplateRenderer withClock(Clock clock) {
        return new ChatTemplateRenderer(namedSources, specialTokens, clock);
    }

    /** Whether the template {@code opt} selects marks assistant text with {@code {% generation %}} blocks. */
    public boolean hasGenerationBlocks(Options opt) {
        return compiled.get(chooseTemplate(opt)).hasGenerationBlocks();
    }

    /** Template names available ("default" for a single template). */
    public List<String> templateNames() {
        return new ArrayList<>(namedSources.keySet());
    }

    /** The special tokens the template sees (bos_token, eos_token, ..., additional_special_tokens). */
    public Map<String, Object> specialTokens() {
        return specialTokens;
    }

    private static Map<String, String> namedTemplates(Object tpl, String where) {
        Map<String, String> named = new LinkedHashMap<>();
        if (tpl instanceof String s) {
            named.put("default", s);
        } else if (tpl instanceof List<?> list) {
            for (Object o : list) {
                if (!(o instanceof Map<?, ?> m) || !(m.get("name") instanceof String n) || !(m.get("template") instanceof String t))
                    throw new IllegalArgumentException(where + ": expected a list of {\"name\": ..., \"template\": ...}, got " + o);
                named.put(n, t);
            }
        } else if (tpl instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) named.put(String.valueOf(e.getKey()), String.valueOf(e.getValue()));
        } else {
            throw new IllegalArgumentException(where + ": expected a string or a list of named templates, got " + (tpl == null ? "null" : tpl.getClass().getSimpleName()));
        }
        return named;
    }

    /** transformers' special_tokens_map: set tokens only, AddedToken dicts as their content. */
    private static Map<String, Object> specialTokenMap(Map<String, ?> cfg) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (String k : SPECIAL_TOKEN_KEYS) {
            String v = tokenText(cfg.get(k));
            if (v != null) out.put(k, v);
        }
        if (cfg.get("additional_special_tokens") instanceof List<?> extra && !extra.isEmpty()) {
            List<Object> l = new ArrayList<>();
            for (Object t : extra) l.add(tokenText(t));
            out.put("additional_special_tokens", l);
        }
        return out;
    }

    private static String tokenText(Object t) {
        if (t instanceof Map<?, ?> m) return m.get("content") instanceof String s ? s : null;
        return t instanceof String s ? s : null;
    }

    /** What to render besides the messages (all optional). */
    public static final class Options {
        List<?> tools;
        List<?> documents;
        boolean addGenerationPrompt;
        boolean continueFinalMessage;
        String templateName;
        final Map<String, Object> kwargs = new LinkedHashMap<>();

        public static Options create() {
            return new Options();
        }

        /** Tool JSON schemas ({@code {"type": "function", "function": {...}}}); null: none. */
        public Options tools(List<?> tools) {
            this.tools = tools;
            return this;
        }

        /** RAG documents (maps, e.g. title and text); null: none. */
        public Options documents(List<?> documents) {
            this.documents = documents;
            return this;
        }

        public Options addGenerationPrompt(boolean on) {
            this.addGenerationPrompt = on;
            return this;
        }

        /** Leave the final message open (no end-of-turn) so the model continues it; excludes addGenerationPrompt. */
        public Options continueFinalMessage(boolean on) {
            this.continueFinalMessage = on;
            return this;
        }

        /** Pick a named template (tokenizer_config's list form) instead of transformers' choice. */
        public Options templateName(String name) {
            this.templateName = name;
            return this;
        }

        /** Any extra template variable: enable_thinking, date_string, tools_in_user_message, ... */
        public Options kwarg(String name, Object value) {
            kwargs.put(name, value);
            return this;
        }

        public Options kwargs(Map<String, ?> more) {
            if (more != null) kwargs.putAll(more);
            return this;
        }

        /**
         * Keyword arguments as {@code apply_chat_template(..., **kwargs)} takes them: {@code tools}, {@code documents},
         * {@code add_generation_prompt} and {@code continue_final_message} set those options, every other key is a
         * template variable ({@code enable_thinking}, {@code date_string}, ...). Later calls win.
         *
         * @throws IllegalArgumentException when one of the four named arguments has the wrong type
         */
        public Options applyKwargs(Map<String, ?> args) {
            if (args == null) return this;
            for (Map.Entry<String, ?> e : args.entrySet()) {
                Object v = e.getValue();
                switch (e.getKey()) {
                    case "tools" -> tools = listOrNull(e.getKey(), v);
                    case "documents" -> documents = listOrNull(e.getKey(), v);
                    case "add_generation_prompt" -> addGenerationPrompt = bool(e.getKey(), v);
                    case "continue_final_message" -> continueFinalMessage = bool(e.getKey(), v);
                    default -> kwargs.put(e.getKey(), v);
                }
            }
            return this;
        }

        private static List<?> listOrNull(String key, Object v) {
            if (v == null || v instanceof List<?>) return (List<?>) v;
            throw new IllegalArgumentException(key + " must be a list (or null), got " + v);
        }

        private static boolean bool(String key, Object v) {
            if (v instanceof Boolean b) return b;
            throw new IllegalArgumentException(key + " must be true or false, got " + v);
        }

        /** An independent copy (the lists and maps inside are shared: templates never change them). */
        public Options copy() {
            Options o = new Options();
            o.tools = tools;
            o.documents = documents;
            o.addGenerationPrompt = addGenerationPrompt;
            o.continueFinalMessage = continueFinalMessage;
            o.templateName = templateName;
            o.kwargs.putAll(kwargs);
            return o;
        }

        public boolean addGenerationPrompt() {
            return addGenerationPrompt;
        }

        public boolean continueFinalMessage() {
            return continueFinalMessage;
        }

        public List<?> tools() {
            return tools;
        }
    }

    public String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt) {
        return render(messages, Options.create().addGenerationPrompt(addGenerationPrompt));
    }

    /**
     * The conversation as text. A template that rejects it ({@code raise_exception}) throws {@link RaisedException}
     * with the template's message; other failures throw {@link TemplateException}; transformers' argument checks
     * (continue_final_message with add_generation_prompt, ...) throw IllegalArgumentException with its wording.
     */
    public String render(List<? extends Map<String, ?>> messages, Options opt) {
        return renderWithSpans(messages, opt).text();
    }

    /**
     * The conversation as text, with the spans (UTF-16 char offsets) of the template's {@code {% generation %}}
     * blocks: what transformers' {@code return_assistant_tokens_mask=True} marks as assistant text. Empty for
     * templates without generation blocks. With continueFinalMessage the spans are those of the uncut text.
     */
    public JinjaTemplate.Rendered renderWithSpans(List<? extends Map<String, ?>> messages, Options opt) {
        JinjaTemplate template = compiled.get(chooseTemplate(opt));
        List<Object> msgs = new ArrayList<>(messages);
        String finalText = null;
        if (opt.continueFinalMessage) {
            if (opt.addGenerationPrompt)
                throw new IllegalArgumentException("continue_final_message and add_generation_prompt are not compatible. Use continue_final_message when you "
                        + "want the model to continue the final message, and add_generation_prompt when you want to add a header that will prompt it to "
                        + "start a new assistant message instead.");
            if (msgs.isEmpty()) throw new IllegalArgumentException("continue_final_message is set but there are no messages");
            finalText = markFinalMessage(msgs);
        }
        Map<String, Object> ctx = new HashMap<>(specialTokens);
        ctx.put("messages", msgs);
        ctx.put("tools", opt.tools);
        ctx.put("documents", opt.documents);
        ctx.put("add_generation_prompt", opt.addGenerationPrompt);
        ctx.putAll(opt.kwargs);
        JinjaTemplate.Rendered rendered = template.renderWithSpans(ctx, clock);
        String text = rendered.text();
        if (opt.continueFinalMessage) {
            String tag = CONTINUE_TAG.strip();
            if (!text.contains(Str.strip(finalText, null)) || !text.contains(tag))
                throw new IllegalArgumentException("continue_final_message is set but the final message does not appear in the chat after applying the chat "
                        + "template! This can happen if the chat template deletes portions of the final message. Please verify the chat template and final "
                        + "message in your chat to ensure they are compatible.");
            int at = text.lastIndexOf(tag);
            text = text.startsWith(CONTINUE_TAG, at) ? text.substring(0, at) : Str.rstrip(text.substring(0, at), null);
        }
        return new JinjaTemplate.Rendered(text, rendered.generationSpans());
    }

    private String chooseTemplate(Options opt) {
        if (opt.templateName != null) {
            if (!namedSources.containsKey(opt.templateName))
                throw new IllegalArgumentException("no chat template named '" + opt.templateName + "'; available: " + namedSources.keySet());
            return opt.templateName;
        }
        if (namedSources.size() == 1) return namedSources.keySet().iterator().next();
        if (opt.tools != null && namedSources.containsKey("tool_use")) return "tool_use";
        if (namedSources.containsKey("default")) return "default";
        throw new IllegalArgumentException("This tokenizer has several chat templates (" + namedSources.keySet() + ") and none is named 'default'; pick one with "
                + "Options.templateName");
    }

    /** Appends the marker to the final message's text (a copy); returns the text before it. */
    private static String markFinalMessage(List<Object> msgs) {
        int last = msgs.size() - 1;
        @SuppressWarnings("unchecked") Map<String, Object> msg = new LinkedHashMap<>((Map<String, Object>) msgs.get(last));
        Object content = msg.get("content");
        String finalText;
        if (content instanceof List<?> blocks) {
            List<Object> copy = new ArrayList<>(blocks);
            int i = copy.size() - 1;
            while (i >= 0 && !(copy.get(i) instanceof Map<?, ?> b && b.containsKey("text"))) i--;
            if (i < 0) throw new IllegalArgumentException("continue_final_message is set but we could not find any text to continue in the final message!");
            @SuppressWarnings("unchecked") Map<String, Object> block = new LinkedHashMap<>((Map<String, Object>) copy.get(i));
            finalText = Py.str(block.get("text"));
            block.put("text", Py.add(block.get("text"), CONTINUE_TAG));
            copy.set(i, block);
            msg.put("content", copy);
        } else {
            if (!(content instanceof String s)) throw new IllegalArgumentException("continue_final_message is set but the final message has no text content");
            finalText = s;
            msg.put("content", s + CONTINUE_TAG);
        }
        msgs.set(last, msg);
        return finalText;
    }
}
