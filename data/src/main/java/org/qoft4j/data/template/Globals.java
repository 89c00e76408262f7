package org.qoft4j.data.template;

import java.time.Clock;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The names every template sees: jinja2's globals ({@code range}, {@code dict}, {@code namespace}, {@code cycler},
 * {@code joiner}) and transformers' {@code raise_exception(message)} and {@code strftime_now(format)}.
 */
final class Globals {
    private Globals() {
    }

    /** jinja2.sandbox.MAX_RANGE. */
    static final int MAX_RANGE = 100_000;

    static Map<String, Object> create(Clock clock) {
        Map<String, Object> g = new HashMap<>();
        g.put("range", (PyCallable) Globals::range);
        g.put("dict", (PyCallable) (args, kwargs) -> dict("dict", args, kwargs));
        g.put("namespace", (PyCallable) (args, kwargs) -> {
            Namespace ns = new Namespace();
            for (Map.Entry<Object, Object> e : dict("namespace", args, kwargs).entrySet()) ns.attrs.put(Py.str(e.getKey()), e.getValue());
            return ns;
        });
        g.put("joiner", (PyCallable) (args, kwargs) -> {
            String sep = Py.str(new Methods.Args("joiner", args, kwargs).get(0, "sep", ", "));
            boolean[] used = {false};
            return (PyCallable) (a2, k2) -> {
                if (!used[0]) {
                    used[0] = true;
                    return "";
                }
                return sep;
            };
        });
        g.put("cycler", (PyCallable) (args, kwargs) -> new Cycler(args));
        g.put("raise_exception", (PyCallable) (args, kwargs) -> {
            throw new RaisedException(Py.str(new Methods.Args("raise_exception", args, kwargs).required(0, "message")));
        });
        g.put("strftime_now", (PyCallable) (args, kwargs) -> {
            Object fmt = new Methods.Args("strftime_now", args, kwargs).required(0, "format");
            if (!Py.isStr(fmt)) throw TemplateException.type("strftime() argument 1 must be str, not " + Py.typeName(fmt));
            return Strftime.format(Py.str(fmt), LocalDateTime.now(clock));
        });
        return g;
    }

    private static Object range(List<Object> args, Map<String, Object> kwargs) {
        if (!kwargs.isEmpty()) throw TemplateException.type("range() takes no keyword arguments");
        if (args.isEmpty() || args.size() > 3) throw TemplateException.type("range expected at most 3 arguments, got " + args.size());
        long start = 0, stop, step = 1;
        String msg = "'%s' object cannot be interpreted as an integer";
        if (args.size() == 1) {
            stop = Py.toLong(args.get(0), String.format(msg, Py.typeName(args.get(0))));
        } else {
            start = Py.toLong(args.get(0), String.format(msg, Py.typeName(args.get(0))));
            stop = Py.toLong(args.get(1), String.format(msg, Py.typeName(args.get(1))));
            if (args.size() == 3) step = Py.toLong(args.get(2), String.format(msg, Py.typeName(args.get(2))));
        }
        if (step == 0) throw TemplateException.value("range() arg 3 must not be zero");
        long n = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0);
        if (n > MAX_RANGE)
            throw new TemplateException("OverflowError", "Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + MAX_RANGE + ").");
        return new PyRange(start, stop, step, (int) n);
    }

    /** Python's dict(mapping_or_pairs, **kwargs). */
    static Map<Object, Object> dict(String fn, List<Object> args, Map<String, Object> kwargs) {
        if (args.size() > 1) throw TemplateException.type(fn + " expected at most 1 argument, got " + args.size());
        Map<Object, Object> m = new LinkedHashMap<>();
        if (!args.isEmpty()) {
            Object src = args.get(0);
            if (src instanceof Map<?, ?> map) m.putAll(map);
            else {
                for (Object pair : Py.iterate(src)) {
                    List<Object> kv = Py.iterate(pair);
                    if (kv.size() != 2) throw TemplateException.value("dictionary update sequence element has length " + kv.size() + "; 2 is required");
                    m.put(kv.get(0), kv.get(1));
                }
            }
        }
        m.putAll(kwargs);
        return m;
    }

    /** jinja2's cycler(*items): next(), reset(), current. */
    static final class Cycler {
        private final List<Object> items;
        private int pos;

        Cycler(List<Object> items) {
            if (items.isEmpty()) throw new TemplateException("RuntimeError", "at least one item has to be provided");
            this.items = items;
        }
    }

    static Object cyclerAttribute(Cycler c, String name) {
        return switch (name) {
            case "current" -> c.items.get(c.pos);
            case "next" -> (PyCallable) (a, k) -> {
                Object v = c.items.get(c.pos);
                c.pos = (c.pos + 1) % c.items.size();
                return v;
            };
            case "reset" -> (PyCallable) (a, k) -> {
                c.pos = 0;
                return null;
            };
            default -> Undefined.member(c, name);
        };
    }
}
