package org.qoft4j.data.template;

import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Jinja2 template rendered exactly as Python's jinja2 renders it in Hugging Face transformers' chat-template
 * environment: {@code ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)} with loop controls,
 * transformers' {@code tojson}, {@code raise_exception}, {@code strftime_now} and {@code {% generation %}}.
 *
 * <p>Values in the context are plain Java objects (String, Number, Boolean, List, Map, null) and behave as their
 * Python counterparts (str, int/float, bool, list, dict, None). Context values are data: a string is never parsed
 * as template code, whatever it contains. The template cannot change the context's lists and maps.
 *
 * <p>A compiled template is immutable and thread-safe; compile once, render many times.
 */
public final class JinjaTemplate {
    private final List<Node.Stmt> body;
    private final boolean hasGenerationBlocks;

    private JinjaTemplate(List<Node.Stmt> body, boolean hasGenerationBlocks) {
        this.body = body;
        this.hasGenerationBlocks = hasGenerationBlocks;
    }

    /** Parses a template; a syntax error is a {@link TemplateException} ({@code TemplateSyntaxError}) with the line. */
    public static JinjaTemplate compile(String source) {
        Parser.Parsed p = Parser.parseTemplate(source);
        return new JinjaTemplate(p.body(), p.hasGeneration());
    }

    /** Whether the template marks assistant text with {@code {% generation %}} blocks (transformers' assistant mask). */
    public boolean hasGenerationBlocks() {
        return hasGenerationBlocks;
    }

    /** Renders with the system clock for {@code strftime_now}. */
    public String render(Map<String, ?> context) {
        return render(context, Clock.systemDefaultZone());
    }

    /**
     * Renders with the given variables; {@code strftime_now} reads the clock. A failure is a {@link TemplateException};
     * {@code raise_exception(message)} in the template is a {@link RaisedException} carrying the message verbatim.
     */
    public String render(Map<String, ?> context, Clock clock) {
        return renderWithSpans(context, clock).text();
    }

    /**
     * The text and the spans of its {@code {% generation %}} blocks (start, end as UTF-16 char offsets into the text),
     * recorded as transformers' {@code return_assistant_tokens_mask} records them.
     */
    public record Rendered(String text, List<int[]> generationSpans) {
    }

    /** Like {@link #render(Map, Clock)}, also returning the {@code {% generation %}} spans. */
    public Rendered renderWithSpans(Map<String, ?> context, Clock clock) {
        Frame.RenderState state = new Frame.RenderState();
        Frame globals = new Frame(null, Globals.create(clock), state);
        @SuppressWarnings("unchecked") Map<String, Object> ctx = (Map<String, Object>) (Map<String, ?>) (context == null ? new HashMap<>() : context);
        Frame top = new Frame(new Frame(globals, ctx, state));
        StringBuilder out = state.root;
        try {
            Node.renderAll(body, top, out);
        } catch (Node.LoopControl c) {
            throw TemplateException.syntax("'" + (c.isBreak ? "break" : "continue") + "' outside loop", 0);
        } catch (StackOverflowError e) {
            throw new TemplateException("RecursionError", "maximum recursion depth exceeded");
        }
        return new Rendered(out.toString(), List.copyOf(state.generationSpans));
    }
}
