package org.qoft4j.data.template;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.List;
import java.util.Map;

/** Python string formatting: {@code "%s" % x} (and the {@code format} filter) and {@code str.format} for common specs. */
final class PyFormat {
    private PyFormat() {
    }

    /** Python's {@code fmt % args} (args: a tuple, a dict for %(name)s, or one value). */
    static String percent(String fmt, Object args) {
        List<?> list = args instanceof PyTuple t ? t : null;
        Map<?, ?> map = args instanceof Map<?, ?> m ? m : null;
        int next = 0;
        boolean usedSingle = false;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%') {
                sb.append(c);
                continue;
            }
            if (++i >= fmt.length()) throw TemplateException.value("incomplete format");
            Object value;
            String key = null;
            if (fmt.charAt(i) == '(') {
                int close = fmt.indexOf(')', i);
                if (close < 0) throw TemplateException.value("incomplete format key");
                key = fmt.substring(i + 1, close);
                i = close + 1;
            }
            StringBuilder flags = new StringBuilder();
            while (i < fmt.length() && "-+ #0".indexOf(fmt.charAt(i)) >= 0) flags.append(fmt.charAt(i++));
            int width = -1, prec = -1;
            int s = i;
            while (i < fmt.length() && Character.isDigit(fmt.charAt(i))) i++;
            if (i > s) width = Integer.parseInt(fmt.substring(s, i));
            if (i < fmt.length() && fmt.charAt(i) == '.') {
                s = ++i;
                while (i < fmt.length() && Character.isDigit(fmt.charAt(i))) i++;
                prec = i > s ? Integer.parseInt(fmt.substring(s, i)) : 0;
            }
            if (i >= fmt.length()) throw TemplateException.value("incomplete format");
            char type = fmt.charAt(i);
            if (type == '%') {
                sb.append('%');
                continue;
            }
            if (key != null) {
                if (map == null) throw TemplateException.type("format requires a mapping");
                Object k = Py.findKey(map, key);
                if (k == Py.NO_KEY) throw new TemplateException("KeyError", Py.repr(key));
                value = map.get(k);
            } else if (list != null) {
                if (next >= list.size()) throw TemplateException.type("not enough arguments for format string");
                value = list.get(next++);
            } else {
                if (usedSingle) throw TemplateException.type("not enough arguments for format string");
                usedSingle = true;
                value = args;
            }
            sb.append(pad(convert(type, value, flags.toString(), prec), width, flags.indexOf("-") >= 0, flags.indexOf("0") >= 0 && "diouxXeEfFgG".indexOf(type) >= 0));
        }
        if (list != null && next < list.size()) throw TemplateException.type("not all arguments converted during string formatting");
        if (list == null && map == null && !usedSingle && !(args instanceof Undefined))
            throw TemplateException.type("not all arguments converted during string formatting");
        return sb.toString();
    }

    private static String convert(char type, Object v, String flags, int prec) {
        if (v instanceof Undefined u && type != 's') throw u.fail();
        String sign = flags.contains("+") ? "+" : flags.contains(" ") ? " " : "";
        switch (type) {
            case 's' -> {
                String r = Py.str(v);
                return prec >= 0 && prec < r.length() ? r.substring(0, prec) : r;
            }
            case 'r', 'a' -> {
                return Py.repr(v);
            }
            case 'd', 'i', 'u' -> {
                Object n = Py.isFloat(v) ? (Object) new BigDecimal(Py.toDouble(v)).setScale(0, RoundingMode.DOWN).toBigInteger() : v;
                if (!Py.isIntLike(n)) throw TemplateException.type("%" + type + " format: a real number is required, not " + Py.typeName(v));
                String r = Py.bigInt(n).toString();
                return r.startsWith("-") ? r : sign + r;
            }
            case 'x', 'X', 'o' -> {
                if (!Py.isIntLike(v)) throw TemplateException.type("%" + type + " format: an integer is required, not " + Py.typeName(v));
                String r = Py.bigInt(v).toString(type == 'o' ? 8 : 16);
                return type == 'X' ? r.toUpperCase() : r;
            }
            case 'f', 'F', 'e', 'E', 'g', 'G' -> {
                if (!Py.isNumber(v)) throw TemplateException.type("must be real number, not " + Py.typeName(v));
                double d = Py.toDouble(v);
                String r;
                if (Double.isNaN(d) || Double.isInfinite(d)) {
                    r = Double.isNaN(d) ? "nan" : d > 0 ? "inf" : "-inf";
                    if (Character.isUpperCase(type)) r = r.toUpperCase();
                } else if (type == 'f' || type == 'F') {
                    // Python rounds the exact binary value half to even ('%.1f' % 2.25 == '2.2'); Java's format rounds half up
                    r = new BigDecimal(d).setScale(prec < 0 ? 6 : prec, RoundingMode.HALF_EVEN).toPlainString();
                    if (d < 0 && !r.startsWith("-")) r = "-" + r;
                } else if (type == 'e' || type == 'E') {
                    int p = prec < 0 ? 6 : prec;
                    BigDecimal bd = d == 0 ? BigDecimal.ZERO : new BigDecimal(d).round(new java.math.MathContext(p + 1, RoundingMode.HALF_EVEN));
                    int exp = d == 0 ? 0 : bd.precision() - bd.scale() - 1;
                    String digits = bd.unscaledValue().abs().toString();
                    digits = (digits + "0".repeat(p + 1)).substring(0, p + 1);
                    r = (d < 0 || (d == 0 && 1 / d < 0) ? "-" : "") + digits.charAt(0) + (p > 0 ? "." + digits.substring(1) : "")
                            + type + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
                } else {
                    r = String.format("%" + (prec >= 0 ? "." + prec : "") + type, d);
                }
                return d < 0 ? r : sign + r;
            }
            case 'c' -> {
                return Py.isIntLike(v) ? new String(Character.toChars((int) Py.toLong(v, ""))) : Py.str(v);
            }
            default -> throw TemplateException.value("unsupported format character '" + type + "'");
        }
    }

    private static String pad(String s, int width, boolean left, boolean zeros) {
        int n = s.codePointCount(0, s.length());
        if (width <= n) return s;
        if (left) return s + " ".repeat(width - n);
        if (zeros) {
            int signLen = !s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+' || s.charAt(0) == ' ') ? 1 : 0;
            return s.substring(0, signLen) + "0".repeat(width - n) + s.substring(signLen);
        }
        return " ".repeat(width - n) + s;
    }

    /** Python's {@code str.format(*args, **kwargs)}: fields {}, {0}, {name}, {name.attr}, {name[key]}, !r/!s, common specs. */
    static String format(String fmt, List<Object> args, Map<String, Object> kwargs) {
        StringBuilder sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c == '{') {
                if (i + 1 < fmt.length() && fmt.charAt(i + 1) == '{') {
                    sb.append('{');
                    i++;
                    continue;
                }
                int close = fmt.indexOf('}', i);
                if (close < 0) throw TemplateException.value("Single '{' encountered in format string");
                String field = fmt.substring(i + 1, close);
                i = close;
                String spec = "";
                char conv = 0;
                int colon = field.indexOf(':');
                if (colon >= 0) {
                    spec = field.substring(colon + 1);
                    field = field.substring(0, colon);
                }
                int bang = field.indexOf('!');
                if (bang >= 0) {
                    conv = field.charAt(bang + 1);
                    field = field.substring(0, bang);
                }
                int end = 0;
                while (end < field.length() && field.charAt(end) != '.' && field.charAt(end) != '[') end++;
                String head = field.substring(0, end);
                Object v;
                if (head.isEmpty()) {
                    if (auto >= args.size()) throw new TemplateException("IndexError", "Replacement index " + auto + " out of range for positional args tuple");
                    v = args.get(auto++);
                } else if (head.chars().allMatch(Character::isDigit)) {
                    int k = Integer.parseInt(head);
                    if (k >= args.size()) throw new TemplateException("IndexError", "Replacement index " + k + " out of range for positional args tuple");
                    v = args.get(k);
                } else {
                    if (!kwargs.containsKey(head)) throw new TemplateException("KeyError", Py.repr(head));
                    v = kwargs.get(head);
                }
                String rest = field.substring(end);
                while (!rest.isEmpty()) {
                    if (rest.charAt(0) == '.') {
                        int e = 1;
                        while (e < rest.length() && rest.charAt(e) != '.' && rest.charAt(e) != '[') e++;
                        v = Py.getattr(v, rest.substring(1, e));
                        rest = rest.substring(e);
                    } else {
                        int e = rest.indexOf(']');
                        String key = rest.substring(1, e);
                        v = Py.getitem(v, key.chars().allMatch(Character::isDigit) && !key.isEmpty() ? (Object) Long.parseLong(key) : key);
                        rest = rest.substring(e + 1);
                    }
                }
                if (conv == 'r') v = Py.repr(v);
                else if (conv == 's') v = Py.str(v);
                sb.append(formatSpec(v, spec));
            } else if (c == '}') {
                if (i + 1 < fmt.length() && fmt.charAt(i + 1) == '}') i++;
                else throw TemplateException.value("Single '}' encountered in format string");
                sb.append('}');
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private static String formatSpec(Object v, String spec) {
        if (spec.isEmpty()) return Py.str(v);
        int i = 0;
        char fill = ' ', align = 0;
        if (spec.length() >= 2 && "<>^=".indexOf(spec.charAt(1)) >= 0) {
            fill = spec.charAt(0);
            align = spec.charAt(1);
            i = 2;
        } else if ("<>^=".indexOf(spec.charAt(0)) >= 0) {
            align = spec.charAt(0);
            i = 1;
        }
        String sign = "";
        if (i < spec.length() && "+- ".indexOf(spec.charAt(i)) >= 0) sign = String.valueOf(spec.charAt(i++));
        if (i < spec.length() && spec.charAt(i) == '0') {
            if (align == 0) {
                fill = '0';
                align = '=';
            }
            i++;
        }
        int s = i;
        while (i < spec.length() && Character.isDigit(spec.charAt(i))) i++;
        int width = i > s ? Integer.parseInt(spec.substring(s, i)) : -1;
        int prec = -1;
        if (i < spec.length() && spec.charAt(i) == '.') {
            s = ++i;
            while (i < spec.length() && Character.isDigit(spec.charAt(i))) i++;
            prec = Integer.parseInt(spec.substring(s, i));
        }
        char type = i < spec.length() ? spec.charAt(i) : 0;
        String body;
        if (type == 0 && Py.isStr(v) || type == 's') {
            body = Py.str(v);
            if (prec >= 0 && prec < body.length()) body = body.substring(0, prec);
            if (align == 0) align = '<';
        } else {
            String flags = sign.equals("-") ? "" : sign;
            char t = type == 0 ? (Py.isFloat(v) ? 'g' : 'd') : type;
            if (type == 0 && Py.isFloat(v) && prec < 0) body = (Py.toDouble(v) >= 0 ? flags : "") + Py.str(v);
            else body = convert(t, v, flags, prec);
            if (align == 0) align = '>';
        }
        int n = body.codePointCount(0, body.length());
        if (width <= n) return body;
        String f = String.valueOf(fill);
        int padN = width - n;
        return switch (align) {
            case '<' -> body + f.repeat(padN);
            case '^' -> f.repeat(padN / 2) + body + f.repeat(padN - padN / 2);
            case '=' -> {
                int signLen = !body.isEmpty() && "+- ".indexOf(body.charAt(0)) >= 0 ? 1 : 0;
                yield body.substring(0, signLen) + f.repeat(padN) + body.substring(signLen);
            }
            default -> f.repeat(padN) + body;
        };
    }
}
