package org.qoft4j.data.template;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)}, which
 * is transformers' {@code tojson} filter: {@code ", "} and {@code ": "} separators (item separator {@code ","} with
 * an indent), floats as Python's repr, NaN/Infinity allowed, non-ASCII characters written as they are.
 */
final class PyJson {
    private final String indent;        // null: one line
    private final String itemSep;
    private final String keySep;
    private final boolean sortKeys;
    private final boolean ensureAscii;
    private final StringBuilder sb = new StringBuilder();

    private PyJson(String indent, String itemSep, String keySep, boolean sortKeys, boolean ensureAscii) {
        this.indent = indent;
        this.itemSep = itemSep;
        this.keySep = keySep;
        this.sortKeys = sortKeys;
        this.ensureAscii = ensureAscii;
    }

    /** indent: null, an int (spaces) or a string; separators: null or a 2-item list/tuple. */
    static String dumps(Object value, Object indent, Object separators, boolean sortKeys, boolean ensureAscii) {
        String ind = null;
        if (indent != null) ind = Py.isStr(indent) ? Py.str(indent) : " ".repeat((int) Math.max(0, Py.toLong(indent, "indent must be an int or a str")));
        String item = ind == null ? ", " : ",", key = ": ";
        if (separators != null) {
            List<Object> seps = Py.iterate(separators);
            if (seps.size() != 2) throw TemplateException.value("too many values to unpack (expected 2)");
            item = Py.str(seps.get(0));
            key = Py.str(seps.get(1));
        }
        PyJson j = new PyJson(ind, item, key, sortKeys, ensureAscii);
        j.write(value, 0);
        return j.sb.toString();
    }

    private void newline(int level) {
        if (indent == null) return;
        sb.append('\n');
        for (int i = 0; i < level; i++) sb.append(indent);
    }

    private void write(Object v, int level) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Boolean b) {
            sb.append(b ? "true" : "false");
        } else if (Py.isStr(v)) {
            string(Py.str(v));
        } else if (Py.isInt(v)) {
            sb.append(v);
        } else if (Py.isFloat(v)) {
            sb.append(floatText(Py.toDouble(v)));
        } else if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) sb.append(itemSep);
                newline(level + 1);
                write(l.get(i), level + 1);
            }
            newline(level);
            sb.append(']');
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                sb.append("{}");
                return;
            }
            List<Map.Entry<String, Object>> entries = new ArrayList<>();
            for (Map.Entry<?, ?> e : m.entrySet()) entries.add(Map.entry(keyText(e.getKey()), e.getValue() == null ? NULL : e.getValue()));
            if (sortKeys) entries.sort((a, b) -> Py.compareCodePoints(a.getKey(), b.getKey()));
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : entries) {
                if (!first) sb.append(itemSep);
                first = false;
                newline(level + 1);
                string(e.getKey());
                sb.append(keySep);
                write(e.getValue() == NULL ? null : e.getValue(), level + 1);
            }
            newline(level);
            sb.append('}');
        } else {
            throw TemplateException.type("Object of type " + Py.typeName(v) + " is not JSON serializable");
        }
    }

    private static final Object NULL = new Object();

    private static String floatText(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
        return Py.floatRepr(d);
    }

    private static String keyText(Object k) {
        if (Py.isStr(k)) return Py.str(k);
        if (k == null) return "null";
        if (k instanceof Boolean b) return b ? "true" : "false";
        if (Py.isInt(k)) return k.toString();
        if (Py.isFloat(k)) return floatText(Py.toDouble(k));
        throw TemplateException.type("keys must be str, int, float, bool or None, not " + Py.typeName(k));
    }

    private void string(String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }
}
