package org.qoft4j.data.template;

import java.util.List;
import java.util.Map;

/** The {@code loop} variable of a {@code {% for %}}: index, index0, revindex, first, last, length, previtem, cycle(), ... */
final class LoopContext {
    private final List<Object> items;
    private final int depth0;
    int index0;
    private Object lastChanged = NOT_SET;
    private static final Object NOT_SET = new Object();

    LoopContext(List<Object> items, int depth0) {
        this.items = items;
        this.depth0 = depth0;
    }

    int length() {
        return items.size();
    }

    Object attribute(String name) {
        int n = items.size();
        return switch (name) {
            case "index" -> (long) index0 + 1;
            case "index0" -> (long) index0;
            case "revindex" -> (long) (n - index0);
            case "revindex0" -> (long) (n - index0 - 1);
            case "first" -> index0 == 0;
            case "last" -> index0 == n - 1;
            case "length" -> (long) n;
            case "depth" -> (long) depth0 + 1;
            case "depth0" -> (long) depth0;
            case "previtem" -> index0 > 0 ? items.get(index0 - 1) : Undefined.withHint("there is no previous item");
            case "nextitem" -> index0 + 1 < n ? items.get(index0 + 1) : Undefined.withHint("there is no next item");
            case "cycle" -> (PyCallable) this::cycle;
            case "changed" -> (PyCallable) this::changed;
            default -> Undefined.member(this, name);
        };
    }

    private Object cycle(List<Object> args, Map<String, Object> kwargs) {
        if (args.isEmpty()) throw TemplateException.type("no items for cycling given");
        return args.get(index0 % args.size());
    }

    private Object changed(List<Object> args, Map<String, Object> kwargs) {
        Object value = args.size() == 1 ? args.get(0) : PyTuple.of(args);
        if (lastChanged == NOT_SET || !Py.eq(lastChanged, value)) {
            lastChanged = value;
            return true;
        }
        return false;
    }

    @Override
    public String toString() {
        return "<LoopContext " + (index0 + 1) + "/" + items.size() + ">";
    }
}
