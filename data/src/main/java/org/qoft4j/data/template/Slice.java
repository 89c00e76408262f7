package org.qoft4j.data.template;

import java.util.ArrayList;
import java.util.List;

/** A Python slice {@code [start:stop:step]} (each part may be None). */
final class Slice {
    final Object start, stop, step;

    Slice(Object start, Object stop, Object step) {
        this.start = start;
        this.stop = stop;
        this.step = step;
    }

    /** The sliced items, or null where Python raises TypeError (non-int bounds) and jinja2 then yields Undefined. */
    List<Object> apply(List<?> items) {
        if (!bound(start) || !bound(stop) || !bound(step)) return null;
        int n = items.size();
        long st = step == null ? 1 : Py.toLong(step, "");
        if (st == 0) throw TemplateException.value("slice step cannot be zero");
        long lower = st > 0 ? 0 : -1, upper = st > 0 ? n : n - 1;
        long a = start == null ? (st > 0 ? lower : upper) : clamp(Py.toLong(start, ""), n, lower, upper);
        long b = stop == null ? (st > 0 ? upper : lower) : clamp(Py.toLong(stop, ""), n, lower, upper);
        List<Object> r = new ArrayList<>();
        if (st > 0) for (long i = a; i < b; i += st) r.add(items.get((int) i));
        else for (long i = a; i > b; i += st) r.add(items.get((int) i));
        return r;
    }

    static boolean boundsOk(Slice s) {
        return bound(s.start) && bound(s.stop) && bound(s.step);
    }

    private static boolean bound(Object o) {
        return o == null || Py.isIntLike(o);
    }

    private static long clamp(long i, int n, long lower, long upper) {
        if (i < 0) {
            i += n;
            return Math.max(i, lower);
        }
        return Math.min(i, upper);
    }
}
