package org.qoft4j.data.template;

/**
 * The template itself rejected its input with {@code raise_exception(message)} (transformers raises
 * {@code jinja2.exceptions.TemplateError(message)}); {@link #getMessage()} is the template's message, verbatim.
 */
public final class RaisedException extends TemplateException {
    public RaisedException(String message) {
        super("TemplateError", message);
    }

    @Override
    public String getMessage() {
        return detail();
    }
}
