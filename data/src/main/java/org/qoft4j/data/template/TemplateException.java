package org.qoft4j.data.template;

/**
 * A template that cannot be parsed or fails while rendering. {@link #pythonType()} names the exception Python's
 * jinja2 raises in the same place ({@code TemplateSyntaxError}, {@code UndefinedError}, {@code TypeError},
 * {@code SecurityError}, ...), so tests can compare failures with the reference renderer.
 */
public class TemplateException extends RuntimeException {
    private final String pythonType;
    private final String detail;
    private int line;

    public TemplateException(String pythonType, String message) {
        super(message);
        this.pythonType = pythonType;
        this.detail = message;
    }

    /** The Python exception class name jinja2 (or Python itself) raises for this failure. */
    public String pythonType() {
        return pythonType;
    }

    /** The message alone, as Python's {@code str(exception)} would print it (no line number). */
    public String detail() {
        return detail;
    }

    /** Template line (1-based) where it happened, 0 if unknown. */
    public int line() {
        return line;
    }

    TemplateException atLine(int line) {
        if (this.line == 0) this.line = line;
        return this;
    }

    @Override
    public String getMessage() {
        return line > 0 ? detail + " (" + pythonType + ", template line " + line + ")" : detail + " (" + pythonType + ")";
    }

    static TemplateException type(String message) {
        return new TemplateException("TypeError", message);
    }

    static TemplateException value(String message) {
        return new TemplateException("ValueError", message);
    }

    static TemplateException syntax(String message, int line) {
        return new TemplateException("TemplateSyntaxError", message).atLine(line);
    }
}
