package org.qoft4j.data.template;

import java.util.Collection;
import java.util.List;
import java.util.Map;

/** jinja2's built-in tests ({@code is defined}, {@code is string}, {@code is mapping}, ...; jinja2/tests.py semantics). */
final class Tests {
    private Tests() {
    }

    static boolean apply(String name, Object v, List<Object> args, Map<String, Object> kwargs, Frame f) {
        Methods.Args a = new Methods.Args(name, args, kwargs);
        return switch (name) {
            case "defined" -> !(v instanceof Undefined);
            case "undefined" -> v instanceof Undefined;
            case "none" -> v == null;
            case "string" -> Py.isStr(v);
            case "number" -> Py.isNumber(v);
            case "integer" -> Py.isInt(v);
            case "float" -> Py.isFloat(v);
            case "boolean" -> v instanceof Boolean;
            case "true" -> Boolean.TRUE.equals(v);
            case "false" -> Boolean.FALSE.equals(v);
            case "mapping" -> v instanceof Map;
            // jinja2: len(value) and value.__getitem__ must both work (an Undefined passes: it has both)
            case "sequence" -> Py.isStr(v) || v instanceof Collection || v instanceof Map || v instanceof Undefined;
            case "iterable" -> Py.isIterable(v);
            case "callable" -> v instanceof PyCallable;
            case "odd" -> Py.toLong(v, "odd test needs an int") % 2 != 0;
            case "even" -> Py.toLong(v, "even test needs an int") % 2 == 0;
            case "divisibleby" -> Py.toLong(v, "divisibleby needs an int") % Py.toLong(a.required(0, "num"), "num") == 0;
            case "eq", "equalto", "==" -> Py.eq(v, a.required(0, "other"));
            case "ne", "!=" -> !Py.eq(v, a.required(0, "other"));
            case "lt", "lessthan", "<" -> Py.compare("<", v, a.required(0, "other"));
            case "le", "<=" -> Py.compare("<=", v, a.required(0, "other"));
            case "gt", "greaterthan", ">" -> Py.compare(">", v, a.required(0, "other"));
            case "ge", ">=" -> Py.compare(">=", v, a.required(0, "other"));
            case "in" -> Py.contains(a.required(0, "seq"), v);
            case "sameas" -> sameAs(v, a.required(0, "other"));
            case "lower" -> Str.isLower(Py.str(v));
            case "upper" -> Str.isUpper(Py.str(v));
            case "escaped" -> v instanceof Markup;
            case "filter", "test" -> false;
            default -> throw new TemplateException("TemplateAssertionError", "No test named '" + name + "'.");
        };
    }

    /** Python's {@code is}: identity, which for None/True/False and small ints is value equality. */
    private static boolean sameAs(Object a, Object b) {
        if (a == null || b == null) return a == b;
        if (a instanceof Boolean || b instanceof Boolean) return a.equals(b);
        if (Py.isInt(a) && Py.isInt(b)) {
            long x = Py.toLong(a, ""), y = Py.toLong(b, "");
            return x == y && x >= -5 && x <= 256;
        }
        return a == b;
    }
}
