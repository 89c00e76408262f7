package org.qoft4j.data.template;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Python value semantics for template values. Values are plain Java objects: {@code null} (None), Boolean,
 * Integer/Long/BigInteger (int), Double/Float/BigDecimal (float), String or {@link Markup} (str), List (list),
 * {@link PyTuple} (tuple), Map (dict, insertion order), {@link Namespace}, {@link Undefined}, {@link PyCallable}.
 * Strings are indexed, sliced, measured and iterated by code point, as Python does.
 *
 * <p>Longer than 400 lines because Python's value rules (truthiness, equality across int/float/bool, ordering,
 * repr, str, arithmetic, slicing) depend on each other; kept together they can be checked against one another.
 */
final class Py {
    private Py() {
    }

    // ---------------------------------------------------------------- kinds

    static boolean isInt(Object o) {
        return o instanceof Integer || o instanceof Long || o instanceof BigInteger || o instanceof Short || o instanceof Byte;
    }

    static boolean isFloat(Object o) {
        return o instanceof Double || o instanceof Float || o instanceof BigDecimal;
    }

    /** int, float or bool (bool is an int in Python). */
    static boolean isNumber(Object o) {
        return isInt(o) || isFloat(o) || o instanceof Boolean;
    }

    static boolean isStr(Object o) {
        return o instanceof String || o instanceof Markup;
    }

    static String typeName(Object o) {
        if (o == null) return "NoneType";
        if (o instanceof Boolean) return "bool";
        if (isInt(o)) return "int";
        if (isFloat(o)) return "float";
        if (o instanceof String) return "str";
        if (o instanceof Markup) return "Markup";
        if (o instanceof PyTuple) return "tuple";
        if (o instanceof PyRange) return "range";
        if (o instanceof List) return "list";
        if (o instanceof Map) return "dict";
        if (o instanceof Namespace) return "Namespace";
        if (o instanceof Undefined) return "Undefined";
        if (o instanceof LoopContext) return "LoopContext";
        if (o instanceof Macro) return "Macro";
        if (o instanceof Slice) return "slice";
        if (o instanceof PyCallable) return "function";
        return o.getClass().getSimpleName();
    }

    /** jinja2.utils.object_type_repr: "None", "dict object", "jinja2.utils.Namespace object", ... */
    static String objectTypeRepr(Object o) {
        if (o == null) return "None";
        String t = typeName(o);
        return switch (t) {
            case "Namespace" -> "jinja2.utils.Namespace object";
            case "Undefined" -> "jinja2.runtime.Undefined object";
            case "LoopContext" -> "jinja2.runtime.LoopContext object";
            case "Macro" -> "jinja2.runtime.Macro object";
            case "Markup" -> "markupsafe.Markup object";
            default -> t + " object";
        };
    }

    // ---------------------------------------------------------------- truth, str, repr

    static boolean truthy(Object o) {
        if (o == null || o instanceof Undefined) return false;
        if (o instanceof Boolean b) return b;
        if (o instanceof String s) return !s.isEmpty();
        if (o instanceof Markup m) return !m.value.isEmpty();
        if (o instanceof Integer || o instanceof Long || o instanceof Short || o instanceof Byte) return ((Number) o).longValue() != 0;
        if (o instanceof BigInteger b) return b.signum() != 0;
        if (o instanceof BigDecimal b) return b.signum() != 0;
        if (isFloat(o)) return ((Number) o).doubleValue() != 0.0;
        if (o instanceof Collection<?> c) return !c.isEmpty();
        if (o instanceof Map<?, ?> m) return !m.isEmpty();
        return true;
    }

    /** Python's str(o). */
    static String str(Object o) {
        if (o instanceof String s) return s;
        if (o == null) return "None";
        if (o instanceof Boolean b) return b ? "True" : "False";
        if (o instanceof Undefined) return "";
        if (o instanceof Markup m) return m.value;
        if (isInt(o)) return o.toString();
        if (isFloat(o)) return floatRepr(((Number) o).doubleValue());
        return repr(o);
    }

    /** Python's repr(o). */
    static String repr(Object o) {
        StringBuilder sb = new StringBuilder();
        repr(o, sb);
        return sb.toString();
    }

    private static void repr(Object o, StringBuilder sb) {
        if (o instanceof String s) {
            strRepr(s, sb);
        } else if (o instanceof Markup m) {
            sb.append("Markup(");
            strRepr(m.value, sb);
            sb.append(')');
        } else if (o instanceof PyRange r) {
            sb.append(r);
        } else if (o instanceof PyTuple t) {
            sb.append('(');
            for (int i = 0; i < t.size(); i++) {
                if (i > 0) sb.append(", ");
                repr(t.get(i), sb);
            }
            if (t.size() == 1) sb.append(',');
            sb.append(')');
        } else if (o instanceof List<?> l) {
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) sb.append(", ");
                repr(l.get(i), sb);
            }
            sb.append(']');
        } else if (o instanceof Map<?, ?> m) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) sb.append(", ");
                first = false;
                repr(e.getKey(), sb);
                sb.append(": ");
                repr(e.getValue(), sb);
            }
            sb.append('}');
        } else if (o instanceof Undefined) {
            sb.append("Undefined");
        } else if (o instanceof Namespace || o instanceof Macro || o instanceof LoopContext) {
            sb.append(o);
        } else if (o instanceof PyCallable) {
            sb.append("<function>");
        } else {
            sb.append(str(o));
        }
    }

    static void strRepr(String s, StringBuilder sb) {
        char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        sb.append(q);
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            if (c == q || c == '\\') sb.append('\\').append((char) c);
            else if (c == '\t') sb.append("\\t");
            else if (c == '\n') sb.append("\\n");
            else if (c == '\r') sb.append("\\r");
            else if (c < 0x20 || c == 0x7f) sb.append(String.format("\\x%02x", c));
            else if (c < 0x7f || isPrintable(c)) sb.appendCodePoint(c);
            else if (c <= 0xff) sb.append(String.format("\\x%02x", c));
            else if (c <= 0xffff) sb.append(String.format("\\u%04x", c));
            else sb.append(String.format("\\U%08x", c));
        }
        sb.append(q);
    }

    /** Python's str.isprintable for one code point: not in categories Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs (space excepted). */
    static boolean isPrintable(int c) {
        if (c == ' ') return true;
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE, Character.UNASSIGNED, Character.LINE_SEPARATOR,
                    Character.PARAGRAPH_SEPARATOR, Character.SPACE_SEPARATOR -> false;
            default -> true;
        };
    }

    /** Python's repr(float): the shortest digits that round-trip, fixed notation for exponents -4 < e < 16. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return 1 / d < 0 ? "-0.0" : "0.0";
        BigDecimal exact = new BigDecimal(d);
        BigDecimal shortest = exact;
        for (int p = 1; p <= 17; p++) {
            BigDecimal r = exact.round(new MathContext(p, RoundingMode.HALF_EVEN));
            if (r.doubleValue() == d) {
                shortest = r;
                break;
            }
        }
        shortest = shortest.stripTrailingZeros();
        String digits = shortest.unscaledValue().abs().toString();
        int decpt = digits.length() - shortest.scale(); // value = 0.DIGITS * 10^decpt
        StringBuilder sb = new StringBuilder();
        if (d < 0) sb.append('-');
        if (decpt > 16 || decpt < -3) {
            sb.append(digits.charAt(0));
            if (digits.length() > 1) sb.append('.').append(digits, 1, digits.length());
            int exp = decpt - 1;
            sb.append('e').append(exp < 0 ? '-' : '+');
            if (Math.abs(exp) < 10) sb.append('0');
            sb.append(Math.abs(exp));
        } else if (decpt <= 0) {
            sb.append("0.").append("0".repeat(-decpt)).append(digits);
        } else if (decpt >= digits.length()) {
            sb.append(digits).append("0".repeat(decpt - digits.length())).append(".0");
        } else {
            sb.append(digits, 0, decpt).append('.').append(digits, decpt, digits.length());
        }
        return sb.toString();
    }

    // ---------------------------------------------------------------- numbers

    static BigInteger bigInt(Object o) {
        if (o instanceof BigInteger b) return b;
        if (o instanceof Boolean b) return b ? BigInteger.ONE : BigInteger.ZERO;
        return BigInteger.valueOf(((Number) o).longValue());
    }

    /** An int value as Long when it fits, else BigInteger. */
    static Object normInt(BigInteger b) {
        return b.bitLength() < 64 ? (Object) b.longValue() : b;
    }

    static boolean isIntLike(Object o) {
        return isInt(o) || o instanceof Boolean;
    }

    static double toDouble(Object o) {
        if (o instanceof Boolean b) return b ? 1 : 0;
        return ((Number) o).doubleValue();
    }

    /** A Python int (or bool) as a Java long; TypeError otherwise. */
    static long toLong(Object o, String what) {
        if (o instanceof Boolean b) return b ? 1 : 0;
        if (o instanceof BigInteger b) {
            if (b.bitLength() >= 64) throw new TemplateException("OverflowError", "Python int too large to convert to C ssize_t");
            return b.longValue();
        }
        if (isInt(o)) return ((Number) o).longValue();
        if (o instanceof Undefined u) throw u.fail();
        throw TemplateException.type(what);
    }

    private static TemplateException unsupported(String op, Object a, Object b) {
        return TemplateException.type("unsupported operand type(s) for " + op + ": '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    private static void failUndefined(Object a, Object b) {
        if (a instanceof Undefined u) throw u.fail();
        if (b instanceof Undefined u) throw u.fail();
    }

    static Object add(Object a, Object b) {
        failUndefined(a, b);
        if (a instanceof Markup || b instanceof Markup) {
            if (isStr(a) && isStr(b)) return new Markup(Markup.escape(a).value + Markup.escape(b).value);
        }
        if (a instanceof String sa) {
            if (b instanceof String sb) return sa.concat(sb);
            throw TemplateException.type("can only concatenate str (not \"" + typeName(b) + "\") to str");
        }
        if (isIntLike(a) && isIntLike(b)) {
            if (a instanceof BigInteger || b instanceof BigInteger) return normInt(bigInt(a).add(bigInt(b)));
            long x = toLong(a, ""), y = toLong(b, "");
            long r = x + y;
            if (((x ^ r) & (y ^ r)) < 0) return bigInt(a).add(bigInt(b));
            return r;
        }
        if (isNumber(a) && isNumber(b)) return toDouble(a) + toDouble(b);
        if (a instanceof PyTuple ta && b instanceof PyTuple tb) {
            List<Object> r = new ArrayList<>(ta);
            r.addAll(tb);
            return PyTuple.of(r);
        }
        if (a instanceof List<?> la && !(a instanceof PyTuple)) {
            if (b instanceof List<?> lb && !(b instanceof PyTuple)) {
                List<Object> r = new ArrayList<>(la.size() + lb.size());
                r.addAll(la);
                r.addAll(lb);
                return r;
            }
            throw TemplateException.type("can only concatenate list (not \"" + typeName(b) + "\") to list");
        }
        throw unsupported("+", a, b);
    }

    static Object sub(Object a, Object b) {
        failUndefined(a, b);
        if (isIntLike(a) && isIntLike(b)) return normInt(bigInt(a).subtract(bigInt(b)));
        if (isNumber(a) && isNumber(b)) return toDouble(a) - toDouble(b);
        throw unsupported("-", a, b);
    }

    static Object mul(Object a, Object b) {
        failUndefined(a, b);
        if (isIntLike(a) && isIntLike(b)) return normInt(bigInt(a).multiply(bigInt(b)));
        if (isNumber(a) && isNumber(b)) return toDouble(a) * toDouble(b);
        if (isIntLike(a) && (isStr(b) || b instanceof List)) return mul(b, a);
        if (isStr(a) && isIntLike(b)) {
            long n = Math.max(0, toLong(b, ""));
            String r = str(a).repeat((int) n);
            return a instanceof Markup ? new Markup(r) : r;
        }
        if (a instanceof List<?> l && isIntLike(b)) {
            long n = Math.max(0, toLong(b, ""));
            List<Object> r = new ArrayList<>();
            for (long i = 0; i < n; i++) r.addAll(l);
            return a instanceof PyTuple ? PyTuple.of(r) : r;
        }
        if (isStr(a) || isStr(b)) throw TemplateException.type("can't multiply sequence by non-int of type '" + typeName(isStr(a) ? b : a) + "'");
        throw unsupported("*", a, b);
    }

    static Object truediv(Object a, Object b) {
        failUndefined(a, b);
        if (isNumber(a) && isNumber(b)) {
            double y = toDouble(b);
            if (y == 0) throw new TemplateException("ZeroDivisionError", isIntLike(a) && isIntLike(b) ? "division by zero" : "float division by zero");
            if (isIntLike(a) && isIntLike(b)) return new BigDecimal(bigInt(a)).divide(new BigDecimal(bigInt(b)), MathContext.DECIMAL64).doubleValue();
            return toDouble(a) / y;
        }
        throw unsupported("/", a, b);
    }

    static Object floordiv(Object a, Object b) {
        failUndefined(a, b);
        if (isIntLike(a) && isIntLike(b)) {
            BigInteger y = bigInt(b);
            if (y.signum() == 0) throw new TemplateException("ZeroDivisionError", "integer division or modulo by zero");
            BigInteger[] qr = bigInt(a).divideAndRemainder(y);
            BigInteger q = qr[0];
            if (qr[1].signum() != 0 && (qr[1].signum() != y.signum())) q = q.subtract(BigInteger.ONE);
            return normInt(q);
        }
        if (isNumber(a) && isNumber(b)) {
            double y = toDouble(b);
            if (y == 0) throw new TemplateException("ZeroDivisionError", "float floor division by zero");
            return Math.floor(toDouble(a) / y);
        }
        throw unsupported("//", a, b);
    }

    static Object mod(Object a, Object b) {
        failUndefined(a, b);
        if (isStr(a)) return PyFormat.percent(str(a), b);
        if (isIntLike(a) && isIntLike(b)) {
            BigInteger y = bigInt(b);
            if (y.signum() == 0) throw new TemplateException("ZeroDivisionError", "integer division or modulo by zero");
            BigInteger r = bigInt(a).mod(y.abs());
            if (y.signum() < 0 && r.signum() != 0) r = r.add(y);
            return normInt(r);
        }
        if (isNumber(a) && isNumber(b)) {
            double x = toDouble(a), y = toDouble(b);
            if (y == 0) throw new TemplateException("ZeroDivisionError", "float modulo");
            double r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) r += y;
            return r;
        }
        throw unsupported("%", a, b);
    }

    static Object pow(Object a, Object b) {
        failUndefined(a, b);
        if (isIntLike(a) && isIntLike(b)) {
            BigInteger e = bigInt(b);
            if (e.signum() >= 0) {
                if (e.bitLength() > 31) throw new TemplateException("OverflowError", "exponent too large");
                return normInt(bigInt(a).pow(e.intValue()));
            }
            return Math.pow(toDouble(a), toDouble(b));
        }
        if (isNumber(a) && isNumber(b)) return Math.pow(toDouble(a), toDouble(b));
        throw unsupported("** or pow()", a, b);
    }

    static Object neg(Object a) {
        if (a instanceof Undefined u) throw u.fail();
        if (isIntLike(a)) return normInt(bigInt(a).negate());
        if (isFloat(a)) return -toDouble(a);
        throw TemplateException.type("bad operand type for unary -: '" + typeName(a) + "'");
    }

    static Object pos(Object a) {
        if (a instanceof Undefined u) throw u.fail();
        if (a instanceof Boolean b) return b ? 1L : 0L;
        if (isNumber(a)) return a;
        throw TemplateException.type("bad operand type for unary +: '" + typeName(a) + "'");
    }

    // ---------------------------------------------------------------- comparison

    static boolean eq(Object a, Object b) {
        if (a == b) return true;
        if (a == null || b == null) return false;
        if (a instanceof Undefined || b instanceof Undefined) return a instanceof Undefined && b instanceof Undefined;
        if (isNumber(a) && isNumber(b)) return numCompare(a, b) == 0;
        if (isStr(a) && isStr(b)) return str(a).equals(str(b));
        if (a instanceof List<?> la && b instanceof List<?> lb) {
            if ((a instanceof PyTuple) != (b instanceof PyTuple) || la.size() != lb.size()) return false;
            for (int i = 0; i < la.size(); i++) if (!eq(la.get(i), lb.get(i))) return false;
            return true;
        }
        if (a instanceof Map<?, ?> ma && b instanceof Map<?, ?> mb) {
            if (ma.size() != mb.size()) return false;
            for (Map.Entry<?, ?> e : ma.entrySet()) {
                Object key = findKey(mb, e.getKey());
                if (key == NO_KEY || !eq(e.getValue(), mb.get(key))) return false;
            }
            return true;
        }
        return a.equals(b);
    }

    /** Numeric comparison of two Python numbers (NaN compares as unordered: returns 2). */
    private static int numCompare(Object a, Object b) {
        if (isIntLike(a) && isIntLike(b)) return bigInt(a).compareTo(bigInt(b));
        double x = toDouble(a), y = toDouble(b);
        if (Double.isNaN(x) || Double.isNaN(y)) return 2;
        if (isIntLike(a) && !Double.isInfinite(y)) return new BigDecimal(bigInt(a)).compareTo(new BigDecimal(y));
        if (isIntLike(b) && !Double.isInfinite(x)) return new BigDecimal(x).compareTo(new BigDecimal(bigInt(b)));
        return Double.compare(x, y) == 0 ? 0 : (x < y ? -1 : 1);
    }

    /** a OP b for OP in lt, le, gt, ge. */
    static boolean compare(String op, Object a, Object b) {
        failUndefined(a, b);
        int c = order(op, a, b);
        if (c == 2) return false; // NaN
        return switch (op) {
            case "<" -> c < 0;
            case "<=" -> c <= 0;
            case ">" -> c > 0;
            default -> c >= 0;
        };
    }

    /** Python ordering of two values: -1, 0, 1 (2 when a NaN makes them unordered); TypeError when not orderable. */
    static int order(String op, Object a, Object b) {
        if (isNumber(a) && isNumber(b)) return numCompare(a, b);
        if (isStr(a) && isStr(b)) return compareCodePoints(str(a), str(b));
        if (a instanceof List<?> la && b instanceof List<?> lb && (a instanceof PyTuple) == (b instanceof PyTuple)) {
            int n = Math.min(la.size(), lb.size());
            for (int i = 0; i < n; i++) {
                if (!eq(la.get(i), lb.get(i))) return order(op, la.get(i), lb.get(i));
            }
            return Integer.compare(la.size(), lb.size());
        }
        throw TemplateException.type("'" + op + "' not supported between instances of '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    static int compareCodePoints(String a, String b) {
        int i = 0, j = 0;
        while (i < a.length() && j < b.length()) {
            int x = a.codePointAt(i), y = b.codePointAt(j);
            if (x != y) return x < y ? -1 : 1;
            i += Character.charCount(x);
            j += Character.charCount(y);
        }
        boolean aDone = i >= a.length(), bDone = j >= b.length();
        return aDone && bDone ? 0 : aDone ? -1 : 1;
    }

    // ---------------------------------------------------------------- containers

    static final Object NO_KEY = new Object();

    /** The key of map equal to key in Python's sense (1 == 1.0 == True), or NO_KEY. */
    static Object findKey(Map<?, ?> map, Object key) {
        if (key instanceof Undefined) return NO_KEY;
        if (map.containsKey(key)) return key;
        if (key instanceof Markup m && map.containsKey(m.value)) return m.value;
        if (isNumber(key) || key instanceof String) {
            for (Object k : map.keySet()) if (eq(k, key)) return k;
        }
        return NO_KEY;
    }

    static int len(Object o) {
        if (o instanceof String s) return s.codePointCount(0, s.length());
        if (o instanceof Markup m) return m.value.codePointCount(0, m.value.length());
        if (o instanceof Collection<?> c) return c.size();
        if (o instanceof Map<?, ?> m) return m.size();
        if (o instanceof Undefined) return 0;
        if (o instanceof LoopContext l) return l.length();
        throw TemplateException.type("object of type '" + typeName(o) + "' has no len()");
    }

    /** Python's list(iter(o)). */
    static List<Object> iterate(Object o) {
        if (o instanceof List<?> l) {
            @SuppressWarnings("unchecked") List<Object> r = (List<Object>) l;
            return r;
        }
        if (o instanceof Map<?, ?> m) return new ArrayList<>(m.keySet());
        if (isStr(o)) return codePoints(str(o));
        if (o instanceof Undefined) return List.of();
        if (o instanceof Collection<?> c) return new ArrayList<>(c);
        if (o instanceof Iterator<?> it) {
            List<Object> r = new ArrayList<>();
            it.forEachRemaining(r::add);
            return r;
        }
        throw TemplateException.type("'" + typeName(o) + "' object is not iterable");
    }

    static boolean isIterable(Object o) {
        return o instanceof Collection || o instanceof Map || isStr(o) || o instanceof Undefined || o instanceof Iterator;
    }

    static List<Object> codePoints(String s) {
        List<Object> r = new ArrayList<>(s.length());
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            int n = Character.charCount(c);
            r.add(s.substring(i, i + n));
            i += n;
        }
        return r;
    }

    /** Python's {@code item in container}. */
    static boolean contains(Object container, Object item) {
        if (isStr(container)) {
            if (item instanceof Undefined u) throw u.fail();
            if (!isStr(item)) throw TemplateException.type("'in <string>' requires string as left operand, not " + typeName(item));
            return str(container).contains(str(item));
        }
        if (container instanceof Map<?, ?> m) return findKey(m, item) != NO_KEY;
        if (container instanceof Undefined) return false;
        if (container instanceof Collection<?> c) {
            for (Object x : c) if (eq(x, item)) return true;
            return false;
        }
        throw TemplateException.type("argument of type '" + typeName(container) + "' is not iterable");
    }

    // ---------------------------------------------------------------- attribute and item access (jinja2 sandbox rules)

    /** {@code obj.name}: a Python attribute first (methods), then {@code obj[name]}, else Undefined. */
    static Object getattr(Object obj, String name) {
        if (obj instanceof Undefined u) throw u.fail();
        if (obj instanceof Namespace ns) {
            return ns.attrs.containsKey(name) ? ns.attrs.get(name) : Undefined.member(obj, name);
        }
        if (obj instanceof LoopContext loop) return loop.attribute(name);
        if (obj instanceof Globals.Cycler c) return Globals.cyclerAttribute(c, name);
        Object method = Methods.bind(obj, name);
        if (method != null) return method;
        if (obj instanceof Map<?, ?> m) {
            Object key = findKey(m, name);
            if (key != NO_KEY) return m.get(key);
        }
        return Undefined.member(obj, name);
    }

    /** {@code obj[key]}: the item first, then (for a string key) the attribute, else Undefined. */
    static Object getitem(Object obj, Object key) {
        if (obj instanceof Undefined u) throw u.fail();
        if (obj instanceof Map<?, ?> m) {
            Object k = findKey(m, key);
            if (k != NO_KEY) return m.get(k);
        } else if (obj instanceof List<?> l) {
            if (key instanceof Slice s) {
                List<Object> r = s.apply(l);
                if (r != null) return obj instanceof PyTuple ? PyTuple.of(r) : obj instanceof PyRange ? rangeOf(r, (PyRange) obj, s) : r;
            } else if (isIntLike(key)) {
                long i = toLong(key, "");
                if (i < 0) i += l.size();
                if (i >= 0 && i < l.size()) return l.get((int) i);
            }
        } else if (isStr(obj)) {
            String s = str(obj);
            if (key instanceof Slice sl) {
                List<Object> r = sl.apply(codePoints(s));
                if (r != null) {
                    StringBuilder sb = new StringBuilder();
                    for (Object c : r) sb.append((String) c);
                    return obj instanceof Markup ? new Markup(sb.toString()) : sb.toString();
                }
            } else if (isIntLike(key)) {
                List<Object> cps = codePoints(s);
                long i = toLong(key, "");
                if (i < 0) i += cps.size();
                if (i >= 0 && i < cps.size()) return cps.get((int) i);
            }
        }
        if (key instanceof String name) {
            if (obj instanceof Namespace || obj instanceof LoopContext) return getattr(obj, name);
            Object method = Methods.bind(obj, name);
            if (method != null) return method;
        }
        return Undefined.member(obj, key);
    }

    /** A slice of a range is a range (Python): start, step from the slice, stop one step past the last item. */
    private static Object rangeOf(List<Object> items, PyRange src, Slice s) {
        long step = src.step * (s.step == null ? 1 : toLong(s.step, ""));
        long start = items.isEmpty() ? src.start : (Long) items.get(0);
        if (items.isEmpty()) {
            Slice probe = new Slice(s.start, null, s.step);
            List<Object> from = probe.apply(src);
            start = from.isEmpty() ? src.stop : (Long) from.get(0);
            if (from.isEmpty() && step < 0) start = src.start - src.step;
        }
        long stop = items.isEmpty() ? start : (Long) items.get(items.size() - 1) + step;
        return new PyRange(start, stop, step, items.size());
    }

    /** Calls a value with Python semantics. */
    static Object call(Object fn, List<Object> args, Map<String, Object> kwargs) {
        if (fn instanceof PyCallable c) return c.call(args, kwargs);
        if (fn instanceof Undefined u) throw u.fail();
        throw TemplateException.type("'" + typeName(fn) + "' object is not callable");
    }
}
