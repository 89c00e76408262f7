package org.qoft4j.data.template;

/**
 * jinja2's default {@code Undefined}: a missing variable, attribute or item. It prints as "", is false, iterates as
 * empty and has length 0; any other use (attribute, item, call, arithmetic, ordering) raises {@code UndefinedError}
 * with jinja2's wording. An unsafe attribute of the immutable sandbox ({@code list.append}, ...) is an Undefined that
 * raises {@code SecurityError} instead.
 */
final class Undefined {
    private final String hint;
    private final Object owner;
    private final boolean hasOwner;
    private final Object name;
    private final String errorType;

    private Undefined(String hint, Object owner, boolean hasOwner, Object name, String errorType) {
        this.hint = hint;
        this.owner = owner;
        this.hasOwner = hasOwner;
        this.name = name;
        this.errorType = errorType;
    }

    /** A variable that is not defined. */
    static Undefined variable(String name) {
        return new Undefined(null, null, false, name, "UndefinedError");
    }

    /** {@code owner.name} or {@code owner[name]} that does not exist. */
    static Undefined member(Object owner, Object name) {
        return new Undefined(null, owner, true, name, "UndefinedError");
    }

    /** An Undefined with a ready message (e.g. "No first item, sequence was empty."). */
    static Undefined withHint(String hint) {
        return new Undefined(hint, null, false, null, "UndefinedError");
    }

    /** A mutating method the immutable sandbox refuses. */
    static Undefined unsafe(Object owner, String attribute) {
        return new Undefined("access to attribute '" + attribute + "' of '" + Py.typeName(owner) + "' object is unsafe.", owner, true, attribute,
                "SecurityError");
    }

    /** jinja2's {@code Undefined._undefined_message}. */
    String message() {
        if (hint != null) return hint;
        if (!hasOwner) return Py.repr(name) + " is undefined";
        if (!(name instanceof String)) return Py.objectTypeRepr(owner) + " has no element " + Py.repr(name);
        return Py.repr(Py.objectTypeRepr(owner)) + " has no attribute " + Py.repr(name);
    }

    /** The error any real use of this value raises. */
    TemplateException fail() {
        return new TemplateException(errorType, message());
    }

    @Override
    public String toString() {
        return "";
    }
}
