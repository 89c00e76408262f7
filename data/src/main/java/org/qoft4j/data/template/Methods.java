package org.qoft4j.data.template;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The Python methods templates call on values ({@code content.strip()}, {@code message.get('x')},
 * {@code tool.items()}, ...), with Python's semantics. Methods that mutate a list or dict are refused as the
 * immutable sandbox refuses them (a SecurityError when called).
 */
final class Methods {
    private Methods() {
    }

    private static final Set<String> STR_METHODS = Set.of("capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find",
            "format", "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
            "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans", "partition", "removeprefix",
            "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip",
            "swapcase", "title", "translate", "upper", "zfill");
    private static final Set<String> LIST_METHODS = Set.of("index", "count", "copy");
    private static final Set<String> LIST_MUTATORS = Set.of("append", "clear", "pop", "reverse", "insert", "sort", "extend", "remove");
    private static final Set<String> DICT_METHODS = Set.of("keys", "values", "items", "get", "copy", "fromkeys");
    private static final Set<String> DICT_MUTATORS = Set.of("clear", "pop", "popitem", "setdefault", "update");

    /** {@code obj.name} as a bound Python method, an unsafe-attribute Undefined, or null when obj has no such method. */
    static Object bind(Object obj, String name) {
        if (Py.isStr(obj)) {
            if (!STR_METHODS.contains(name)) return null;
            return (PyCallable) (args, kwargs) -> callStr(obj, name, new Args(name, args, kwargs));
        }
        if (obj instanceof PyTuple) {
            if (!name.equals("index") && !name.equals("count")) return null;
            return (PyCallable) (args, kwargs) -> callList((List<?>) obj, name, new Args(name, args, kwargs));
        }
        if (obj instanceof List<?> l) {
            if (LIST_MUTATORS.contains(name)) return Undefined.unsafe(obj, name);
            if (!LIST_METHODS.contains(name)) return null;
            return (PyCallable) (args, kwargs) -> callList(l, name, new Args(name, args, kwargs));
        }
        if (obj instanceof Map<?, ?> m) {
            if (DICT_MUTATORS.contains(name)) return Undefined.unsafe(obj, name);
            if (!DICT_METHODS.contains(name)) return null;
            return (PyCallable) (args, kwargs) -> callDict(m, name, new Args(name, args, kwargs));
        }
        return null;
    }

    /** Positional and keyword arguments of one call, read Python-style. */
    static final class Args {
        final String fn;
        final List<Object> pos;
        final Map<String, Object> kw;

        Args(String fn, List<Object> pos, Map<String, Object> kw) {
            this.fn = fn;
            this.pos = pos;
            this.kw = kw;
        }

        boolean has(int i, String name) {
            return i < pos.size() || kw.containsKey(name);
        }

        Object get(int i, String name, Object dflt) {
            if (i < pos.size()) return pos.get(i);
            if (name != null && kw.containsKey(name)) return kw.get(name);
            return dflt;
        }

        Object required(int i, String name) {
            if (!has(i, name)) throw TemplateException.type(fn + "() missing required argument '" + name + "' (pos " + (i + 1) + ")");
            return get(i, name, null);
        }

        void atMost(int n) {
            if (pos.size() > n) throw TemplateException.type(fn + "() takes at most " + n + " argument" + (n == 1 ? "" : "s") + " (" + pos.size() + " given)");
        }

        /** str argument or None. */
        String optStr(int i, String name) {
            Object o = get(i, name, null);
            if (o == null) return null;
            if (!Py.isStr(o)) throw TemplateException.type(fn + " arg must be None or str");
            return Py.str(o);
        }

        long optLong(int i, String name, long dflt) {
            Object o = get(i, name, null);
            return o == null ? dflt : Py.toLong(o, "'" + Py.typeName(o) + "' object cannot be interpreted as an integer");
        }
    }

    private static String needStr(Object o, String fn) {
        if (!Py.isStr(o)) throw TemplateException.type(fn + "() argument must be str, not " + Py.typeName(o));
        return Py.str(o);
    }

    private static Object wrap(Object receiver, String result) {
        return receiver instanceof Markup ? new Markup(result) : result;
    }

    private static Object callStr(Object receiver, String name, Args a) {
        String s = Py.str(receiver);
        switch (name) {
            case "strip", "lstrip", "rstrip" -> {
                a.atMost(1);
                String chars = a.optStr(0, "chars");
                return wrap(receiver, name.equals("strip") ? Str.strip(s, chars) : name.equals("lstrip") ? Str.lstrip(s, chars) : Str.rstrip(s, chars));
            }
            case "startswith", "endswith" -> {
                Object prefix = a.required(0, "prefix");
                String sub = sliceArgs(s, a);
                List<Object> options = prefix instanceof PyTuple t ? t : List.of(prefix);
                for (Object p : options) {
                    if (!Py.isStr(p)) throw TemplateException.type(name + " first arg must be str or a tuple of str, not " + Py.typeName(p));
                    if (name.equals("startswith") ? sub.startsWith(Py.str(p)) : sub.endsWith(Py.str(p))) return true;
                }
                return false;
            }
            case "split", "rsplit" -> {
                String sep = a.optStr(0, "sep");
                long max = a.optLong(1, "maxsplit", -1);
                return name.equals("split") ? Str.split(s, sep, max) : Str.rsplit(s, sep, max);
            }
            case "splitlines" -> {
                return Str.splitlines(s, Py.truthy(a.get(0, "keepends", false)));
            }
            case "replace" -> {
                String old = needStr(a.required(0, "old"), name), rep = needStr(a.required(1, "new"), name);
                return wrap(receiver, Str.replace(s, old, rep, a.optLong(2, "count", -1)));
            }
            case "upper" -> {
                return wrap(receiver, Str.upper(s));
            }
            case "lower" -> {
                return wrap(receiver, Str.lower(s));
            }
            case "casefold" -> {
                return Str.lower(Str.upper(s));
            }
            case "title" -> {
                return wrap(receiver, Str.title(s));
            }
            case "capitalize" -> {
                return wrap(receiver, Str.capitalize(s));
            }
            case "swapcase" -> {
                return wrap(receiver, Str.swapcase(s));
            }
            case "find", "rfind", "index", "rindex", "count" -> {
                String sub = needStr(a.required(0, "sub"), name);
                long start = a.optLong(1, "start", 0);
                int from = Str.charIndex(s, start);
                int to = a.get(2, "end", null) == null ? s.length() : Str.charIndex(s, a.optLong(2, "end", 0));
                String region = from <= to ? s.substring(from, to) : "";
                if (name.equals("count")) {
                    if (sub.isEmpty()) return (long) region.codePointCount(0, region.length()) + 1;
                    long n = 0;
                    for (int i = region.indexOf(sub); i >= 0; i = region.indexOf(sub, i + sub.length())) n++;
                    return n;
                }
                int at = name.startsWith("r") ? region.lastIndexOf(sub) : region.indexOf(sub);
                if (from > to && !(sub.isEmpty() && from == to)) at = -1;
                if (at < 0) {
                    if (name.endsWith("index")) throw TemplateException.value("substring not found");
                    return -1L;
                }
                return Str.cpIndex(s, from + at);
            }
            case "join" -> {
                List<Object> items = Py.iterate(a.required(0, "iterable"));
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < items.size(); i++) {
                    Object it = items.get(i);
                    if (!Py.isStr(it)) throw TemplateException.type("sequence item " + i + ": expected str instance, " + Py.typeName(it) + " found");
                    if (i > 0) sb.append(s);
                    sb.append(Py.str(it));
                }
                return wrap(receiver, sb.toString());
            }
            case "center", "ljust", "rjust" -> {
                int width = (int) Py.toLong(a.required(0, "width"), "integer argument expected");
                String fill = a.has(1, "fillchar") ? needStr(a.get(1, "fillchar", " "), name) : " ";
                int n = s.codePointCount(0, s.length());
                if (width <= n) return wrap(receiver, s);
                String r = name.equals("center") ? Str.center(s, width, fill) : name.equals("ljust") ? s + fill.repeat(width - n) : fill.repeat(width - n) + s;
                return wrap(receiver, r);
            }
            case "zfill" -> {
                int width = (int) Py.toLong(a.required(0, "width"), "integer argument expected");
                int n = s.codePointCount(0, s.length());
                if (width <= n) return s;
                String sign = !s.isEmpty() && (s.charAt(0) == '+' || s.charAt(0) == '-') ? s.substring(0, 1) : "";
                return sign + "0".repeat(width - n) + s.substring(sign.length());
            }
            case "partition", "rpartition" -> {
                String sep = needStr(a.required(0, "sep"), name);
                if (sep.isEmpty()) throw TemplateException.value("empty separator");
                int at = name.equals("partition") ? s.indexOf(sep) : s.lastIndexOf(sep);
                if (at < 0) return name.equals("partition") ? new PyTuple(s, "", "") : new PyTuple("", "", s);
                return new PyTuple(s.substring(0, at), sep, s.substring(at + sep.length()));
            }
            case "removeprefix" -> {
                String p = needStr(a.required(0, "prefix"), name);
                return s.startsWith(p) ? s.substring(p.length()) : s;
            }
            case "removesuffix" -> {
                String p = needStr(a.required(0, "suffix"), name);
                return !p.isEmpty() && s.endsWith(p) ? s.substring(0, s.length() - p.length()) : s;
            }
            case "isdigit", "isdecimal", "isnumeric" -> {
                return Str.isDigit(s);
            }
            case "isalpha" -> {
                return Str.isAlpha(s);
            }
            case "isalnum" -> {
                return Str.isAlnum(s);
            }
            case "isspace" -> {
                return !s.isEmpty() && Str.isAllSpace(s, 0);
            }
            case "islower" -> {
                return Str.isLower(s);
            }
            case "isupper" -> {
                return Str.isUpper(s);
            }
            case "isascii" -> {
                return s.chars().allMatch(c -> c < 128);
            }
            case "format" -> {
                return PyFormat.format(s, a.pos, a.kw);
            }
            default -> throw new TemplateException("NotImplementedError", "str." + name + "() is not supported by this template engine");
        }
    }

    /** s[start:end] for startswith/endswith's optional start and end (code point indices). */
    private static String sliceArgs(String s, Args a) {
        if (!a.has(1, "start")) return s;
        int from = Str.charIndex(s, a.optLong(1, "start", 0));
        int to = a.get(2, "end", null) == null ? s.length() : Str.charIndex(s, a.optLong(2, "end", 0));
        return from <= to ? s.substring(from, to) : "\u0000\u0000no-match";
    }

    private static Object callList(List<?> l, String name, Args a) {
        switch (name) {
            case "index" -> {
                Object x = a.required(0, "value");
                for (int i = 0; i < l.size(); i++) if (Py.eq(l.get(i), x)) return (long) i;
                throw TemplateException.value(Py.repr(x) + " is not in list");
            }
            case "count" -> {
                Object x = a.required(0, "value");
                long n = 0;
                for (Object o : l) if (Py.eq(o, x)) n++;
                return n;
            }
            default -> { // copy
                return new ArrayList<>(l);
            }
        }
    }

    private static Object callDict(Map<?, ?> m, String name, Args a) {
        switch (name) {
            case "keys" -> {
                return new ArrayList<>(m.keySet());
            }
            case "values" -> {
                return new ArrayList<>(m.values());
            }
            case "items" -> {
                List<Object> r = new ArrayList<>(m.size());
                for (Map.Entry<?, ?> e : m.entrySet()) r.add(new PyTuple(e.getKey(), e.getValue()));
                return r;
            }
            case "get" -> {
                Object key = Py.findKey(m, a.required(0, "key"));
                return key == Py.NO_KEY ? a.get(1, "default", null) : m.get(key);
            }
            case "copy" -> {
                return new LinkedHashMap<>(m);
            }
            default -> throw new TemplateException("NotImplementedError", "dict." + name + "() is not supported by this template engine");
        }
    }
}
