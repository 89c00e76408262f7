package org.qoft4j.gguf;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.qoft4j.core.AtomicFiles;
import org.qoft4j.data.tokenizer.ChatMessage;
import org.qoft4j.data.template.ChatTemplateRenderer;
import org.qoft4j.data.template.TemplateException;
import org.qoft4j.data.tokenizer.TextTokenizer;

/**
 * An Ollama {@code Modelfile} for an exported GGUF file ({@code ollama create NAME -f FILE}): {@code FROM} the file,
 * the model's chat template converted to Ollama's Go template, and its stop tokens.
 *
 * <p>The conversion works by example, not by translating Jinja: the Hugging Face template is rendered for a few
 * conversations whose contents are marker words, and the text around the markers gives each role's prefix and
 * suffix, the generation prompt, and the start (with and without a system message). Those pieces make the Go
 * template. They are then checked by rebuilding longer conversations from the pieces and comparing with the Jinja
 * rendering; a template that is not such a concatenation (one that changes with the position of a turn beyond
 * "last or not", or that needs content-dependent logic) is left out, with a note saying so — llama.cpp still has the
 * original template inside the GGUF file.
 */
public final class OllamaModelfile {
    /** @param note why the template was left out, or null */
    public record Result(Path path, String text, String note) {}

    /** The pieces of a chat template that is a plain concatenation of role-wrapped turns. */
    record Pieces(String start, String systemPrefix, String systemSuffix, String userPrefix, String userSuffix, String assistantPrefix,
                  String assistantSuffix, String generationPrompt) {

        /** The prompt text these pieces give for {@code messages} (a system message first, if any). */
        String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
            StringBuilder b = new StringBuilder();
            int i = 0;
            if (!messages.isEmpty() && messages.get(0).role().equals("system")) {
                b.append(systemPrefix).append(messages.get(0).content()).append(systemSuffix);
                i = 1;
            } else {
                b.append(start);
            }
            for (; i < messages.size(); i++) {
                ChatMessage m = messages.get(i);
                boolean last = i == messages.size() - 1;
                if (m.role().equals("user")) b.append(userPrefix).append(m.content()).append(userSuffix).append(last && addGenerationPrompt ? generationPrompt : "");
                else b.append(assistantPrefix).append(m.content()).append(last ? "" : assistantSuffix);
            }
            return b.toString();
        }

        /** Ollama's Go template (text/template over .System and .Messages). */
        String goTemplate() {
            StringBuilder b = new StringBuilder();
            if (systemPrefix != null) {
                b.append("{{ $sys := .System }}{{ range .Messages }}{{ if eq .Role \"system\" }}{{ $sys = .Content }}{{ end }}{{ end }}");
                b.append("{{ if $sys }}").append(systemPrefix).append("{{ $sys }}").append(systemSuffix).append("{{ else }}").append(start).append("{{ end }}");
            } else {
                b.append(start);
            }
            b.append("{{ range $i, $_ := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}");
            b.append("{{ if eq .Role \"user\" }}").append(userPrefix).append("{{ .Content }}").append(userSuffix)
                    .append("{{ if $last }}").append(generationPrompt).append("{{ end }}");
            b.append("{{ else if eq .Role \"assistant\" }}").append(assistantPrefix).append("{{ .Content }}")
                    .append("{{ if not $last }}").append(assistantSuffix).append("{{ end }}");
            b.append("{{ end }}{{ end }}");
            return b.toString();
        }
    }

    private static final String U1 = "QoftUserOne", U2 = "QoftUserTwo", U3 = "QoftUserThree", A1 = "QoftAssistantOne", A2 = "QoftAssistantTwo",
            S = "QoftSystemText";

    private OllamaModelfile() {}

    /** Writes {@code NAME.Modelfile} beside the GGUF file (atomically) for an export of {@code modelDir}. */
    public static Result write(GgufExport.Report r, Path modelDir) {
        String gguf = r.out().getFileName().toString();
        Path path = r.out().resolveSibling(gguf.replaceFirst("\\.gguf$", "") + ".Modelfile");
        StringBuilder b = new StringBuilder();
        b.append("# Ollama Modelfile written by qoft4j export-gguf: ollama create NAME -f ").append(path.getFileName()).append('\n');
        b.append("FROM ./").append(gguf).append('\n');
        String note = null;
        String template = r.vocabulary().chatTemplate();
        Map<String, Integer> ids = r.vocabulary().specialIds();
        List<String> stops = new ArrayList<>();
        try (TextTokenizer tok = TextTokenizer.load(modelDir)) {
            for (String k : List.of("eos", "eot"))
                if (ids.containsKey(k)) {
                    String s = tok.decode(new long[] {ids.get(k)}, false);
                    if (!s.isEmpty() && !stops.contains(s)) stops.add(s);
                }
            if (template == null) {
                note = "the model has no chat template: the Modelfile passes prompts through as they are";
                b.append("TEMPLATE \"\"\"{{ .Prompt }}\"\"\"\n");
            } else {
                try {
                    Pieces p = pieces(tok.chatTemplate());
                    String bos = ids.containsKey("bos") ? tok.decode(new long[] {ids.get("bos")}, false) : null;
                    boolean addsBos = Boolean.TRUE.equals(r.vocabulary().metadata().containsKey("tokenizer.ggml.add_bos_token")
                            && r.vocabulary().metadata().get("tokenizer.ggml.add_bos_token").asBoolean());
                    if (addsBos && bos != null && !bos.isEmpty()) p = withoutLeadingBos(p, bos); // Ollama's tokenizer adds BOS itself
                    String go = p.goTemplate();
                    if (go.contains("\"\"\"")) throw new IllegalArgumentException("the template text contains \"\"\"");
                    b.append("TEMPLATE \"\"\"").append(go).append("\"\"\"\n");
                } catch (IllegalArgumentException e) {
                    note = "the chat template could not be converted for Ollama (" + e.getMessage() + "); the Modelfile has no TEMPLATE, llama.cpp "
                            + "uses the template stored in the GGUF file";
                }
            }
        }
        for (String s : stops) b.append("PARAMETER stop \"").append(s.replace("\\", "\\\\").replace("\"", "\\\"")).append("\"\n");
        AtomicFiles.write(path, b.toString().getBytes(StandardCharsets.UTF_8));
        return new Result(path, b.toString(), note);
    }

    private static Pieces withoutLeadingBos(Pieces p, String bos) {
        return new Pieces(strip(p.start(), bos), p.systemPrefix() == null ? null : strip(p.systemPrefix(), bos), p.systemSuffix(), p.userPrefix(),
                p.userSuffix(), p.assistantPrefix(), p.assistantSuffix(), p.generationPrompt());
    }

    private static String strip(String s, String bos) {
        return s.startsWith(bos) ? s.substring(bos.length()) : s;
    }

    /** A conversation rendered by the model's template. */
    @FunctionalInterface
    interface Renders {
        String render(List<ChatMessage> messages, boolean generationPrompt);
    }

    /** The template's text for a conversation; a template that rejects it is an IllegalArgumentException, as for the tokenizer. */
    static String render(ChatTemplateRenderer template, List<ChatMessage> messages, boolean generationPrompt) {
        try {
            return template.render(messages.stream().map(ChatMessage::asMap).toList(), generationPrompt);
        } catch (TemplateException e) {
            throw new IllegalArgumentException("chat template failed: " + e.getMessage(), e);
        }
    }

    /**
     * The pieces of {@code t}, found from renderings of marker conversations and verified on longer ones.
     *
     * @throws IllegalArgumentException saying why the template is not a plain concatenation of turns
     */
    static Pieces pieces(ChatTemplateRenderer template) {
        Renders t = (messages, generationPrompt) -> render(template, messages, generationPrompt);
        String r1 = t.render(List.of(ChatMessage.user(U1)), false);
        String r2 = t.render(List.of(ChatMessage.user(U1)), true);
        String r3 = t.render(List.of(ChatMessage.user(U1), ChatMessage.assistant(A1)), false);
        String r4 = t.render(List.of(ChatMessage.user(U1), ChatMessage.assistant(A1), ChatMessage.user(U2)), true);
        String head = before(r1, U1);
        String userSuffix = after(r1, U1);
        String gen = rest(r2, head + U1 + userSuffix, "the generation prompt");
        String between = between(r3, U1, A1);
        if (!between.startsWith(userSuffix)) throw new IllegalArgumentException("the user turn ends differently before an assistant turn");
        String assistantPrefix = between.substring(userSuffix.length());
        String assistantSuffix = after(r3, A1);
        String y = between(r4, A1, U2);
        if (!y.startsWith(assistantSuffix)) throw new IllegalArgumentException("an assistant turn ends differently when it is not the last");
        String userPrefix = y.substring(assistantSuffix.length());
        if (!head.endsWith(userPrefix)) throw new IllegalArgumentException("the first user turn starts differently from later ones");
        String start = head.substring(0, head.length() - userPrefix.length());
        String systemPrefix = null, systemSuffix = null;
        try {
            String r5 = t.render(List.of(ChatMessage.system(S), ChatMessage.user(U1)), true);
            String tail = userPrefix + U1 + userSuffix + gen;
            if (r5.contains(S) && r5.endsWith(tail)) {
                systemPrefix = before(r5, S);
                systemSuffix = r5.substring(r5.indexOf(S) + S.length(), r5.length() - tail.length());
            }
        } catch (IllegalArgumentException noSystemRole) {
            // the template rejects system messages: the Go template ignores them too
        }
        Pieces p = new Pieces(start, systemPrefix, systemSuffix, userPrefix, userSuffix, assistantPrefix, assistantSuffix, gen);
        for (String piece : new String[] {start, systemPrefix, systemSuffix, userPrefix, userSuffix, assistantPrefix, assistantSuffix, gen})
            if (piece != null && piece.contains("{{")) throw new IllegalArgumentException("the template text contains '{{'");
        List<List<ChatMessage>> checks = new ArrayList<>();
        checks.add(List.of(ChatMessage.user(U1), ChatMessage.assistant(A1), ChatMessage.user(U2), ChatMessage.assistant(A2), ChatMessage.user(U3)));
        if (systemPrefix != null)
            checks.add(List.of(ChatMessage.system(S), ChatMessage.user(U1), ChatMessage.assistant(A1), ChatMessage.user(U2)));
        for (List<ChatMessage> c : checks)
            for (boolean g : new boolean[] {true, false}) {
                String expected = t.render(c, g);
                if (!expected.equals(p.render(c, g)))
                    throw new IllegalArgumentException("rebuilding a " + c.size() + "-turn conversation from the pieces differs from the template's rendering");
            }
        return p;
    }

    private static String before(String s, String marker) {
        int i = s.indexOf(marker);
        if (i < 0 || s.indexOf(marker, i + 1) >= 0) throw new IllegalArgumentException("a message's content does not appear exactly once in the rendering");
        return s.substring(0, i);
    }

    private static String after(String s, String marker) {
        before(s, marker);
        return s.substring(s.indexOf(marker) + marker.length());
    }

    private static String between(String s, String a, String b) {
        String x = after(s, a);
        return before(x, b);
    }

    private static String rest(String s, String prefix, String what) {
        if (!s.startsWith(prefix)) throw new IllegalArgumentException(what + " is not appended at the end");
        return s.substring(prefix.length());
    }
}
