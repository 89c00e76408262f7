package org.qoft4j.data.template;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** jinja2's built-in filters (jinja2/filters.py semantics) with transformers' {@code tojson}. */
final class Filters {
    private Filters() {
    }

    static Object apply(String name, Object v, List<Object> args, Map<String, Object> kwargs, Frame f) {
        Methods.Args a = new Methods.Args(name, args, kwargs);
        switch (name) {
            case "tojson" -> {
                return PyJson.dumps(v, a.get(1, "indent", null), a.get(2, "separators", null), Py.truthy(a.get(3, "sort_keys", false)),
                        Py.truthy(a.get(0, "ensure_ascii", false)));
            }
            case "trim" -> {
                return Str.strip(Py.str(v), a.optStr(0, "chars"));
            }
            case "length", "count" -> {
                return (long) Py.len(v);
            }
            case "string" -> {
                return v instanceof Markup ? v : Py.str(v);
            }
            case "safe" -> {
                return v instanceof Markup ? v : new Markup(Py.str(v));
            }
            case "e", "escape", "forceescape" -> {
                return name.equals("forceescape") && v instanceof Markup m ? Markup.escape(m.value) : Markup.escape(v);
            }
            case "upper" -> {
                return Str.upper(Py.str(v));
            }
            case "lower" -> {
                return Str.lower(Py.str(v));
            }
            case "capitalize" -> {
                return Str.capitalize(Py.str(v));
            }
            case "title" -> {
                return title(Py.str(v));
            }
            case "replace" -> {
                Object count = a.get(2, "count", null);
                return Str.replace(Py.str(v), Py.str(a.required(0, "old")), Py.str(a.required(1, "new")), count == null ? -1 : Py.toLong(count, "count"));
            }
            case "default", "d" -> {
                Object dflt = a.get(0, "default_value", "");
                boolean bool = Py.truthy(a.get(1, "boolean", false));
                return v instanceof Undefined || (bool && !Py.truthy(v)) ? dflt : v;
            }
            case "items" -> {
                if (v instanceof Undefined) return List.of();
                if (!(v instanceof Map<?, ?> m)) throw TemplateException.type("Can only get item pairs from a mapping.");
                List<Object> r = new ArrayList<>(m.size());
                for (Map.Entry<?, ?> e : m.entrySet()) r.add(new PyTuple(e.getKey(), e.getValue()));
                return r;
            }
            case "list" -> {
                return new ArrayList<>(Py.iterate(v));
            }
            case "join" -> {
                String sep = Py.str(a.get(0, "d", ""));
                Object attr = a.get(1, "attribute", null);
                StringBuilder sb = new StringBuilder();
                boolean first = true;
                for (Object o : Py.iterate(v)) {
                    if (!first) sb.append(sep);
                    first = false;
                    sb.append(Py.str(attr == null ? o : attribute(o, attr)));
                }
                return sb.toString();
            }
            case "first" -> {
                List<Object> items = Py.iterate(v);
                return items.isEmpty() ? Undefined.withHint("No first item, sequence was empty.") : items.get(0);
            }
            case "last" -> {
                List<Object> items = Py.iterate(v);
                return items.isEmpty() ? Undefined.withHint("No last item, sequence was empty.") : items.get(items.size() - 1);
            }
            case "reverse" -> {
                if (Py.isStr(v)) return new StringBuilder(Py.str(v)).reverse().toString();
                List<Object> r = new ArrayList<>(Py.iterate(v));
                java.util.Collections.reverse(r);
                return r;
            }
            case "abs" -> {
                if (Py.isIntLike(v)) return Py.normInt(Py.bigInt(v).abs());
                if (Py.isFloat(v)) return Math.abs(Py.toDouble(v));
                throw TemplateException.type("bad operand type for abs(): '" + Py.typeName(v) + "'");
            }
            case "int" -> {
                return toInt(v, a.get(0, "default", 0L), (int) a.optLong(1, "base", 10));
            }
            case "float" -> {
                return toFloat(v, a.get(0, "default", 0.0));
            }
            case "round" -> {
                return round(v, (int) a.optLong(0, "precision", 0), Py.str(a.get(1, "method", "common")));
            }
            case "sort" -> {
                return sort(Py.iterate(v), Py.truthy(a.get(0, "reverse", false)), Py.truthy(a.get(1, "case_sensitive", false)), a.get(2, "attribute", null));
            }
            case "unique" -> {
                boolean cs = Py.truthy(a.get(0, "case_sensitive", false));
                Object attr = a.get(1, "attribute", null);
                List<Object> seen = new ArrayList<>(), r = new ArrayList<>();
                for (Object o : Py.iterate(v)) {
                    Object key = ignoreCase(attr == null ? o : attribute(o, attr), cs);
                    boolean dup = false;
                    for (Object s : seen) if (Py.eq(s, key)) dup = true;
                    if (!dup) {
                        seen.add(key);
                        r.add(o);
                    }
                }
                return r;
            }
            case "min", "max" -> {
                List<Object> items = Py.iterate(v);
                if (items.isEmpty()) return Undefined.withHint("No aggregated item, sequence was empty.");
                boolean cs = Py.truthy(a.get(0, "case_sensitive", false));
                Object attr = a.get(1, "attribute", null);
                Object best = items.get(0);
                for (Object o : items.subList(1, items.size())) {
                    int c = Py.order("<", ignoreCase(attr == null ? o : attribute(o, attr), cs), ignoreCase(attr == null ? best : attribute(best, attr), cs));
                    if (name.equals("min") ? c < 0 : c > 0) best = o;
                }
                return best;
            }
            case "sum" -> {
                Object attr = a.get(0, "attribute", null);
                Object total = a.get(1, "start", 0L);
                for (Object o : Py.iterate(v)) total = Py.add(total, attr == null ? o : attribute(o, attr));
                return total;
            }
            // jinja2's map/select/reject run only `if value:`, so a false value (None, "", []) gives nothing, no error
            case "map" -> {
                return Py.truthy(v) ? map(Py.iterate(v), args, kwargs, f) : new ArrayList<>();
            }
            case "select", "reject" -> {
                return Py.truthy(v) ? select(Py.iterate(v), args, kwargs, f, name.equals("select"), false) : new ArrayList<>();
            }
            case "selectattr", "rejectattr" -> {
                return Py.truthy(v) ? select(Py.iterate(v), args, kwargs, f, name.equals("selectattr"), true) : new ArrayList<>();
            }
            case "attr" -> {
                String attr = Py.str(a.required(0, "name")); // a Python attribute only, never an item (jinja2's do_attr)
                if (v instanceof Namespace || v instanceof LoopContext) return Py.getattr(v, attr);
                Object method = Methods.bind(v, attr);
                return method != null ? method : Undefined.member(v, attr);
            }
            case "indent" -> {
                return indent(v, a.get(0, "width", 4L), Py.truthy(a.get(1, "first", false)), Py.truthy(a.get(2, "blank", false)));
            }
            case "center" -> {
                return Str.center(Py.str(v), (int) a.optLong(0, "width", 80), " ");
            }
            case "wordcount" -> {
                Matcher m = WORD.matcher(Py.str(v));
                long n = 0;
                while (m.find()) n++;
                return n;
            }
            case "truncate" -> {
                return truncate(Py.str(v), (int) a.optLong(0, "length", 255), Py.truthy(a.get(1, "killwords", false)), Py.str(a.get(2, "end", "...")),
                        a.get(3, "leeway", null) == null ? 5 : (int) a.optLong(3, "leeway", 5));
            }
            case "format" -> {
                return kwargs.isEmpty() ? PyFormat.percent(Py.str(v), PyTuple.of(args)) : PyFormat.percent(Py.str(v), kwargs);
            }
            case "batch" -> {
                int n = (int) Py.toLong(a.required(0, "linecount"), "linecount");
                Object fill = a.get(1, "fill_with", null);
                boolean fillGiven = a.has(1, "fill_with");
                List<Object> r = new ArrayList<>();
                List<Object> cur = new ArrayList<>();
                for (Object o : Py.iterate(v)) {
                    if (cur.size() == n) {
                        r.add(cur);
                        cur = new ArrayList<>();
                    }
                    cur.add(o);
                }
                if (!cur.isEmpty()) {
                    if (fillGiven && fill != null) while (cur.size() < n) cur.add(fill);
                    r.add(cur);
                }
                return r;
            }
            case "dictsort" -> {
                if (!(v instanceof Map<?, ?> m)) throw TemplateException.type("dictsort requires a mapping");
                boolean cs = Py.truthy(a.get(0, "case_sensitive", false));
                String by = Py.str(a.get(1, "by", "key"));
                boolean rev = Py.truthy(a.get(2, "reverse", false));
                List<Object> pairs = new ArrayList<>();
                for (Map.Entry<?, ?> e : m.entrySet()) pairs.add(new PyTuple(e.getKey(), e.getValue()));
                int idx = by.equals("value") ? 1 : 0;
                pairs.sort((x, y) -> Py.order("<", ignoreCase(((PyTuple) x).get(idx), cs), ignoreCase(((PyTuple) y).get(idx), cs)));
                if (rev) java.util.Collections.reverse(pairs);
                return pairs;
            }
            case "pprint" -> {
                return Py.repr(v);
            }
            case "striptags" -> {
                String s = Py.str(v).replaceAll("(?s)<!--.*?-->|<[^>]*>", "");
                return String.join(" ", Str.split(s, null, -1).stream().map(Py::str).toList());
            }
            default -> throw new TemplateException("TemplateAssertionError", "No filter named '" + name + "'.");
        }
    }

    private static final Pattern WORD = Pattern.compile("\\w+", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern TITLE_SPLIT = Pattern.compile("([-\\s({\\[<]+)", Pattern.UNICODE_CHARACTER_CLASS);

    /** jinja2's do_title: each word's first character upper case, the rest lower case (words split at - whitespace ( { [ <). */
    static String title(String s) {
        StringBuilder sb = new StringBuilder();
        Matcher m = TITLE_SPLIT.matcher(s);
        int last = 0;
        while (m.find()) {
            titleWord(s.substring(last, m.start()), sb);
            titleWord(m.group(), sb);
            last = m.end();
        }
        titleWord(s.substring(last), sb);
        return sb.toString();
    }

    private static void titleWord(String item, StringBuilder sb) {
        if (item.isEmpty()) return;
        int c = item.codePointAt(0);
        int n = Character.charCount(c);
        sb.append(Str.upper(item.substring(0, n))).append(Str.lower(item.substring(n)));
    }

    /** jinja2's make_attrgetter: "a.b.0" walks attributes/items (digits as indices). */
    static Object attribute(Object o, Object attr) {
        if (Py.isIntLike(attr)) return Py.getitem(o, attr);
        for (String part : Py.str(attr).split("\\.")) {
            Object key = part.chars().allMatch(Character::isDigit) && !part.isEmpty() ? (Object) Long.parseLong(part) : part;
            o = Py.getitem(o, key);
        }
        return o;
    }

    private static Object ignoreCase(Object o, boolean caseSensitive) {
        return !caseSensitive && Py.isStr(o) ? Str.lower(Py.str(o)) : o;
    }

    private static List<Object> sort(List<Object> items, boolean reverse, boolean cs, Object attr) {
        List<Object> r = new ArrayList<>(items);
        Comparator<Object> cmp = (x, y) -> {
            if (attr == null) return Py.order("<", ignoreCase(x, cs), ignoreCase(y, cs));
            for (String part : Py.str(attr).split(",")) {
                int c = Py.order("<", ignoreCase(attribute(x, part.strip()), cs), ignoreCase(attribute(y, part.strip()), cs));
                if (c != 0) return c;
            }
            return 0;
        };
        r.sort(reverse ? cmp.reversed() : cmp);
        return r;
    }

    private static Object toInt(Object v, Object dflt, int base) {
        try {
            if (Py.isStr(v)) {
                String s = Str.strip(Py.str(v), null).replace("_", "");
                if (base == 16 && (s.startsWith("0x") || s.startsWith("0X"))) s = s.substring(2);
                return Py.normInt(new BigInteger(s, base));
            }
            if (Py.isIntLike(v)) return Py.normInt(Py.bigInt(v));
            if (Py.isFloat(v)) return Py.normInt(new BigDecimal(Py.toDouble(v)).toBigInteger());
        } catch (NumberFormatException e) {
            try {
                return Py.normInt(new BigDecimal(Str.strip(Py.str(v), null)).toBigInteger());
            } catch (NumberFormatException e2) {
                return dflt;
            }
        }
        return dflt;
    }

    private static Object toFloat(Object v, Object dflt) {
        if (Py.isNumber(v)) return Py.toDouble(v);
        if (Py.isStr(v)) {
            String s = Str.strip(Py.str(v), null).replace("_", "");
            String l = Str.lower(s);
            if (l.equals("inf") || l.equals("+inf") || l.equals("infinity")) return Double.POSITIVE_INFINITY;
            if (l.equals("-inf") || l.equals("-infinity")) return Double.NEGATIVE_INFINITY;
            if (l.equals("nan")) return Double.NaN;
            try {
                if (s.matches("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?")) return Double.parseDouble(s);
            } catch (NumberFormatException ignored) {
                // fall through to the default
            }
        }
        return dflt;
    }

    /** jinja2's round: 'common' is Python's round() (half to even on the exact binary value), 'ceil', 'floor'; always a float. */
    private static Object round(Object v, int precision, String method) {
        if (!Py.isNumber(v)) throw TemplateException.type("type " + Py.typeName(v) + " doesn't define __round__ method");
        double d = Py.toDouble(v);
        if (Double.isNaN(d) || Double.isInfinite(d)) return d;
        RoundingMode mode = switch (method) {
            case "common" -> RoundingMode.HALF_EVEN;
            case "ceil" -> RoundingMode.CEILING;
            case "floor" -> RoundingMode.FLOOR;
            default -> throw new TemplateException("FilterArgumentError", "method must be common, ceil or floor");
        };
        if (Py.isIntLike(v) && method.equals("common")) return Py.normInt(Py.bigInt(v)); // round(int, n) stays an int
        return new BigDecimal(d).setScale(precision, mode).doubleValue();
    }

    private static Object map(List<Object> items, List<Object> args, Map<String, Object> kwargs, Frame f) {
        List<Object> r = new ArrayList<>(items.size());
        if (args.isEmpty() && kwargs.containsKey("attribute")) {
            Object attr = kwargs.get("attribute");
            boolean hasDefault = kwargs.containsKey("default");
            for (Object o : items) {
                Object x = attribute(o, attr);
                r.add(hasDefault && x instanceof Undefined ? kwargs.get("default") : x);
            }
            return r;
        }
        if (args.isEmpty()) throw new TemplateException("FilterArgumentError", "map requires a filter argument");
        String filter = Py.str(args.get(0));
        List<Object> rest = args.subList(1, args.size());
        for (Object o : items) r.add(apply(filter, o, rest, kwargs, f));
        return r;
    }

    private static Object select(List<Object> items, List<Object> args, Map<String, Object> kwargs, Frame f, boolean keep, boolean byAttr) {
        int i = 0;
        Object attr = null;
        if (byAttr) {
            if (args.isEmpty()) throw TemplateException.type("Missing parameter for attribute name");
            attr = args.get(i++);
        }
        String test = i < args.size() ? Py.str(args.get(i++)) : null;
        List<Object> testArgs = args.subList(Math.min(i, args.size()), args.size());
        List<Object> r = new ArrayList<>();
        for (Object o : items) {
            Object x = byAttr ? attribute(o, attr) : o;
            boolean ok = test == null ? Py.truthy(x) : Py.truthy(Tests.apply(test, x, testArgs, kwargs, f));
            if (ok == keep) r.add(o);
        }
        return r;
    }

    private static Object indent(Object v, Object width, boolean first, boolean blank) {
        String ind = Py.isStr(width) ? Py.str(width) : " ".repeat((int) Math.max(0, Py.toLong(width, "width")));
        String s = Py.str(v) + "\n";
        List<Object> lines = Str.splitlines(s, false);
        StringBuilder sb = new StringBuilder();
        if (blank) {
            for (int i = 0; i < lines.size(); i++) {
                if (i > 0) sb.append('\n').append(ind);
                sb.append(lines.get(i));
            }
        } else {
            sb.append(lines.get(0));
            for (int i = 1; i < lines.size(); i++) {
                String line = (String) lines.get(i);
                sb.append('\n');
                if (!line.isEmpty()) sb.append(ind);
                sb.append(line);
            }
        }
        String r = first ? ind + sb : sb.toString();
        return v instanceof Markup ? new Markup(r) : r;
    }

    private static String truncate(String s, int length, boolean killwords, String end, int leeway) {
        if (length < end.length()) throw new TemplateException("AssertionError", "expected length >= " + end.length() + ", got " + length);
        if (leeway < 0) throw new TemplateException("AssertionError", "expected leeway >= 0, got " + leeway);
        if (s.length() <= length + leeway) return s;
        if (killwords) return s.substring(0, length - end.length()) + end;
        String r = s.substring(0, length - end.length());
        int sp = r.lastIndexOf(' ');
        return (sp >= 0 ? r.substring(0, sp) : r) + end;
    }

    static Map<String, Object> newDict() {
        return new LinkedHashMap<>();
    }
}
