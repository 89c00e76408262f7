package org.qoft4j.data;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.qoft4j.data.template.ChatTemplateRenderer;
import org.qoft4j.data.template.ChatTemplateRenderer.Options;
import org.qoft4j.data.template.JinjaTemplate;

/**
 * Where the assistant turns are in a rendered conversation: the characters completion-only training scores. The
 * rendered text is the whole conversation as transformers renders it (what the model trains on); the spans are
 * found by one of three methods, in order of preference:
 * <ol>
 * <li>{@link Method#GENERATION_BLOCKS}: the template marks assistant text with {@code {% generation %}} (transformers'
 * {@code return_assistant_tokens_mask}; TRL's {@code assistant_only_loss}); its spans are used as they are.</li>
 * <li>{@link Method#PREFIXES}: for each assistant message k, the span runs from the end of the conversation before it
 * rendered with the generation prompt (what the model sees when asked to answer) to the end of the conversation
 * rendered through message k (its end-of-turn marker included), when the whole conversation starts with both.</li>
 * <li>{@link Method#FULL_RENDER_DIFF}: templates that render a turn differently once later messages follow fail that
 * (Qwen3 drops the think block of turns before the last user message and its generation prompt with
 * {@code enable_thinking=false} has an empty one; Mistral moves the system prompt into the last user turn; Phi-3.5
 * ends a conversation with EOS). There the pieces are anchored in the whole rendering: each message's own text is
 * found by rendering again with a private-use character appended to it (its content, or a tool-call turn's last
 * function name; the renderings part ways exactly there), and the span runs from the end of message k-1's text plus
 * the prompt text that follows it, as far as the whole rendering has it too, to the end of message k's text plus the
 * end-of-turn text the rendering through k puts after it, again as far as the whole rendering has it. So a span
 * never reaches back into an earlier message.</li>
 * </ol>
 * Offsets are UTF-16 char offsets into the text, [start, end), sorted and disjoint.
 */
public final class AssistantSpans {
    /** Appended to a message's text to find where it ends in a rendering (a private-use code point). */
    static final String MARK = "\uE000";

    public enum Method { GENERATION_BLOCKS, PREFIXES, FULL_RENDER_DIFF }

    /** The rendered conversation, its assistant spans and the method that found them. */
    public record Result(String text, List<int[]> spans, Method method) {}

    private AssistantSpans() {}

    /**
     * @param messages the conversation (maps as templates see them: role, content, tool_calls, reasoning_content, ...)
     * @param options  tools, documents, template variables; add_generation_prompt / continue_final_message as given
     * @throws IllegalArgumentException naming the message whose span cannot be located (or the template's own error)
     */
    public static Result find(ChatTemplateRenderer template, List<Map<String, Object>> messages, Options options) {
        if (template.hasGenerationBlocks(options)) {
            JinjaTemplate.Rendered r = template.renderWithSpans(messages, options);
            List<int[]> spans = new ArrayList<>();
            for (int[] s : r.generationSpans()) {
                int a = Math.min(s[0], r.text().length()), b = Math.min(s[1], r.text().length()); // continue_final_message cuts the text
                if (b > a) addMerged(spans, a, b);
            }
            return new Result(r.text(), spans, Method.GENERATION_BLOCKS);
        }
        String full = template.render(messages, options);
        Options prompt = options.copy().addGenerationPrompt(true).continueFinalMessage(false);
        Options turn = options.copy().addGenerationPrompt(false).continueFinalMessage(false);
        List<int[]> spans = new ArrayList<>();
        Method method = Method.PREFIXES;
        int last = messages.size() - 1;
        for (int k = 0; k <= last; k++) {
            if (!"assistant".equals(messages.get(k).get("role"))) continue;
            String before = k == 0 ? "" : render(template, messages.subList(0, k), prompt, k, "before it, with the generation prompt");
            boolean open = k == last && options.continueFinalMessage(); // left open: everything after its prompt is the model's
            String through = open ? null : render(template, messages.subList(0, k + 1), turn, k, "through it");
            int start, end;
            if (full.startsWith(before) && (open || full.startsWith(through))) {
                start = before.length();
                end = open ? full.length() : through.length();
            } else {
                method = Method.FULL_RENDER_DIFF;
                if (full.startsWith(before)) {
                    start = before.length();
                } else {
                    // after message k-1 the prompt's text and the whole conversation's agree as far as they both go
                    if (k == 0) throw cannotLocate(k, "it is the first message");
                    int inFull = markedEnd(template, messages, k - 1, options, full, k);
                    int inBefore = markedEnd(template, messages.subList(0, k), k - 1, prompt, before, k);
                    start = inFull + agreed(before.substring(inBefore), full.substring(inFull));
                }
                if (open || full.startsWith(through)) {
                    end = open ? full.length() : through.length();
                } else {
                    // after message k's own (marked) text, the turn's end as the rendering through k has it, as far as the whole one has it too
                    // ("<|im_end|>\n"; Phi-3.5's rendering through k adds its EOS after the last message, the whole one only at its end)
                    int inFull = markedEnd(template, messages, k, options, full, k);
                    int inThrough = markedEnd(template, messages.subList(0, k + 1), k, turn, through, k);
                    if (inFull < start) throw cannotLocate(k, "its text lies before its prompt ends");
                    end = inFull + agreed(through.substring(inThrough), full.substring(inFull));
                }
            }
            if (!spans.isEmpty() && start < spans.get(spans.size() - 1)[1])
                throw cannotLocate(k, "its span would start inside the previous assistant turn");
            if (end > start) spans.add(new int[] {start, end});
        }
        return new Result(full, spans, method);
    }

    /**
     * Where message j's own text ends in {@code rendered} (the rendering of {@code msgs} under {@code o}): found by
     * rendering again with {@link #MARK} appended to its content, or, when the content is empty (a tool-call turn), to
     * its last tool call's function name; the two renderings part ways exactly there.
     */
    private static int markedEnd(ChatTemplateRenderer template, List<Map<String, Object>> msgs, int j, Options o, String rendered, int k) {
        Map<String, Object> marked = withMark(msgs.get(j));
        if (marked == null) throw cannotLocate(k, "message " + j + " has no text to anchor on (content or a tool call's name)");
        List<Map<String, Object>> copy = new ArrayList<>(msgs);
        copy.set(j, marked);
        String r = template.render(copy, o);
        int at = commonPrefix(rendered, r);
        if (r.length() != rendered.length() + 1 || !r.startsWith(MARK, at) || !r.substring(at + 1).equals(rendered.substring(at)))
            throw cannotLocate(k, "the template transforms message " + j + "'s text, so where it ends cannot be seen");
        return at;
    }

    /** A copy of {@code m} with {@link #MARK} after its content, or after its last tool call's name; null when it has neither. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> withMark(Map<String, Object> m) {
        Map<String, Object> c = new LinkedHashMap<>(m);
        if (m.get("content") instanceof String text && !text.isEmpty()) {
            c.put("content", text + MARK);
            return c;
        }
        if (m.get("tool_calls") instanceof List<?> calls && !calls.isEmpty() && calls.get(calls.size() - 1) instanceof Map<?, ?> call) {
            Map<String, Object> callCopy = new LinkedHashMap<>((Map<String, Object>) call);
            Map<String, Object> target = callCopy;
            if (callCopy.get("function") instanceof Map<?, ?> fn) {
                target = new LinkedHashMap<>((Map<String, Object>) fn);
                callCopy.put("function", target);
            }
            if (!(target.get("name") instanceof String name)) return null;
            target.put("name", name + MARK);
            List<Object> callsCopy = new ArrayList<>(calls);
            callsCopy.set(callsCopy.size() - 1, callCopy);
            c.put("tool_calls", callsCopy);
            return c;
        }
        return null;
    }

    private static IllegalArgumentException cannotLocate(int k, String why) {
        return new IllegalArgumentException("message " + k + " (assistant): the chat template renders the conversation differently in pieces than "
                + "whole, and " + why + "; its tokens cannot be located for completion-only loss "
                + "(give one record per assistant turn, use a chat template with {% generation %} blocks, or train-on-prompt)");
    }

    private static String render(ChatTemplateRenderer template, List<Map<String, Object>> msgs, Options o, int k, String what) {
        try {
            return template.render(msgs, o);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("message " + k + " (assistant): rendering the conversation " + what + " (to find the turn's tokens) "
                    + "failed: " + e.getMessage(), e);
        }
    }

    private static void addMerged(List<int[]> spans, int a, int b) {
        if (!spans.isEmpty() && a <= spans.get(spans.size() - 1)[1]) {
            int[] prev = spans.get(spans.size() - 1);
            prev[1] = Math.max(prev[1], b);
        } else {
            spans.add(new int[] {a, b});
        }
    }

    /**
     * How much of {@code piece} the whole rendering {@code rest} has too: their common prefix, ended where they part ways;
     * when that is inside an unclosed {@code <...>} or {@code [...]} (a special token such as Phi-3.5's {@code <|user|>} vs
     * {@code <|endoftext|>}), ended before it, so a span never takes part of the next turn's marker.
     */
    static int agreed(String piece, String rest) {
        int n = commonPrefix(piece, rest);
        if (n == piece.length() || n == rest.length()) return n;
        int open = Math.max(piece.lastIndexOf('<', n - 1), piece.lastIndexOf('[', n - 1));
        int close = Math.max(piece.lastIndexOf('>', n - 1), piece.lastIndexOf(']', n - 1));
        return open > close ? open : n;
    }

    static int commonPrefix(String a, String b) {
        int n = Math.min(a.length(), b.length()), i = 0;
        while (i < n && a.charAt(i) == b.charAt(i)) i++;
        return i;
    }

    static int commonSuffix(String a, String b) {
        int n = Math.min(a.length(), b.length()), i = 0;
        while (i < n && a.charAt(a.length() - 1 - i) == b.charAt(b.length() - 1 - i)) i++;
        return i;
    }
}
