package org.qoft4j.bench;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.time.LocalDate;
import org.qoft4j.data.tokenizer.ChatMessage;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The renderer qoft4j used before its own Jinja2 engine (org.qoft4j.data.template), kept here only so that
 * {@link ChatTemplateBench} and {@link ChatTemplateJinjavaCheck} can measure the choice: a Hugging Face chat template (Jinja) rendered with Jinjava the way transformers renders it: trim_blocks and
 * lstrip_blocks on, loop controls available, {@code messages}, {@code add_generation_prompt}, the special-token
 * strings ({@code bos_token}, ...), {@code raise_exception(msg)} and {@code strftime_now(fmt)} in scope.
 */
public final class JinjavaChatTemplate {
    private static final Jinjava JINJAVA = newJinjava();

    private final String source;
    private final Map<String, String> specialTokens;

    /** {@code specialTokens}: {@code bos_token}, {@code eos_token}, ... as template variables (absent ones omitted). */
    public JinjavaChatTemplate(String source, Map<String, String> specialTokens) {
        if (source == null || source.isBlank()) throw new IllegalArgumentException("empty chat template");
        this.source = source;
        this.specialTokens = Map.copyOf(specialTokens);
    }

    public String source() {
        return source;
    }

    /** The conversation as the model's prompt text. A template that rejects it ({@code raise_exception}) is an IllegalArgumentException. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        Map<String, Object> ctx = new HashMap<>(specialTokens);
        List<Map<String, Object>> ms = new ArrayList<>();
        for (ChatMessage m : messages) ms.add(m.asMap());
        ctx.put("messages", ms);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        RenderResult r = JINJAVA.renderForResult(source, ctx);
        List<TemplateError> fatal = r.getErrors().stream().filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL).collect(Collectors.toList());
        if (!fatal.isEmpty())
            throw new IllegalArgumentException("chat template failed: " + fatal.stream().map(JinjavaChatTemplate::describe).collect(Collectors.joining("; ")));
        return r.getOutput();
    }

    private static String describe(TemplateError e) {
        for (Throwable t = e.getException(); t != null; t = t.getCause())
            if (t instanceof RaisedException r) return r.getMessage(); // the template's own words
        return e.getMessage() + (e.getLineno() > 0 ? " (template line " + e.getLineno() + ")" : "");
    }

    private static Jinjava newJinjava() {
        // Jinja2 semantics where Jinjava's defaults differ: {{- and {#- trim too, strict whitespace control, Python precedence.
        LegacyOverrides jinja2 = LegacyOverrides.newBuilder().withUseTrimmingForNotesAndExpressions(true).withParseWhitespaceControlStrictly(true)
                .withUseNaturalOperatorPrecedence(true).withKeepNullableLoopValues(true).build();
        JinjavaConfig cfg = JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true).withLegacyOverrides(jinja2).build();
        Jinjava j = new Jinjava(cfg);
        j.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", JinjavaChatTemplate.class, "raiseException", String.class));
        j.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now", JinjavaChatTemplate.class, "strftimeNow", String.class));
        return j;
    }

    /** {@code raise_exception(message)}: templates call it to reject a conversation (e.g. roles not alternating). */
    public static String raiseException(String message) {
        throw new RaisedException(message);
    }

    /** {@code strftime_now(format)} for the common directives Llama 3.x templates use ({@code %d %b %Y}, ...). */
    public static String strftimeNow(String format) {
        LocalDate d = LocalDate.now();
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                sb.append(c);
                continue;
            }
            char f = format.charAt(++i);
            switch (f) {
                case 'd' -> sb.append(String.format("%02d", d.getDayOfMonth()));
                case 'm' -> sb.append(String.format("%02d", d.getMonthValue()));
                case 'Y' -> sb.append(d.getYear());
                case 'y' -> sb.append(String.format("%02d", d.getYear() % 100));
                case 'b' -> sb.append(d.format(DateTimeFormatter.ofPattern("MMM", Locale.ENGLISH)));
                case 'B' -> sb.append(d.format(DateTimeFormatter.ofPattern("MMMM", Locale.ENGLISH)));
                case '%' -> sb.append('%');
                default -> sb.append('%').append(f);
            }
        }
        return sb.toString();
    }

    /** Carries a template's own error message out of Jinjava. */
    static final class RaisedException extends RuntimeException {
        RaisedException(String message) {
            super(message);
        }
    }
}
