package org.qoft4j.data.template;

/**
 * markupsafe's {@code Markup} (what {@code |safe} and {@code |escape} return): a string that is "already escaped".
 * Autoescaping is off in transformers' environment, so it prints like any string; it matters only where Python's
 * Markup escapes the other operand ({@code +}).
 */
final class Markup {
    final String value;

    Markup(String value) {
        this.value = value;
    }

    /** markupsafe.escape: {@code & < > ' "} become entities; a Markup passes unchanged. */
    static Markup escape(Object o) {
        if (o instanceof Markup m) return m;
        String s = Py.str(o);
        StringBuilder sb = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> sb.append("&amp;");
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '\'' -> sb.append("&#39;");
                case '"' -> sb.append("&#34;");
                default -> sb.append(c);
            }
        }
        return new Markup(sb.toString());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Markup m && m.value.equals(value);
    }

    @Override
    public int hashCode() {
        return value.hashCode();
    }

    @Override
    public String toString() {
        return value;
    }
}
