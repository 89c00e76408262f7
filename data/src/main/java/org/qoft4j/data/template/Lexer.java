package org.qoft4j.data.template;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits a template into tokens with jinja2's whitespace rules for transformers' settings (trim_blocks and
 * lstrip_blocks on): newlines normalized to \n and one trailing newline dropped; {@code {%-}/{@code -%}} strip all
 * whitespace on that side; {@code %}} and {@code #}} eat one following newline ({@code +%}} keeps it); a block or
 * comment tag alone on its line loses the line's leading spaces and tabs ({@code {%+} keeps them); {@code {{ }}}
 * tags are never lstripped or trimmed.
 */
final class Lexer {
    enum Type { DATA, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INT, FLOAT, OP, EOF }

    static final class Token {
        final Type type;
        final String text;   // name, operator, raw data
        final Object value;  // literal value of STRING / INT / FLOAT
        final int line;

        Token(Type type, String text, Object value, int line) {
            this.type = type;
            this.text = text;
            this.value = value;
            this.line = line;
        }

        boolean is(Type t, String s) {
            return type == t && text.equals(s);
        }

        boolean isName(String s) {
            return type == Type.NAME && text.equals(s);
        }

        boolean isOp(String s) {
            return type == Type.OP && text.equals(s);
        }

        @Override
        public String toString() {
            return type == Type.EOF ? "end of template" : type == Type.STRING ? "'" + value + "'" : "'" + text + "'";
        }
    }

    private static final String[] OPERATORS = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "~", "[", "]", "(", ")", "{", "}",
            ">", "<", "=", ".", ":", "|", ",", ";"};

    private final String src;
    private final List<Token> out = new ArrayList<>();
    private int pos;
    private int line = 1;
    private boolean lineStarting = true;

    private Lexer(String source) {
        this.src = normalizeNewlines(source);
    }

    static List<Token> tokenize(String source) {
        Lexer lx = new Lexer(source);
        lx.run();
        return lx.out;
    }

    /** jinja2: every \r\n, \r, \n becomes \n, and a single trailing newline is dropped (keep_trailing_newline=False). */
    static String normalizeNewlines(String s) {
        if (s.indexOf('\r') >= 0) s = s.replace("\r\n", "\n").replace('\r', '\n');
        if (s.endsWith("\n")) s = s.substring(0, s.length() - 1);
        return s;
    }

    private void run() {
        while (pos < src.length()) {
            int tag = findTagStart(pos);
            if (tag < 0) {
                emitData(src.substring(pos));
                pos = src.length();
                break;
            }
            char kind = src.charAt(tag + 1);
            int afterOpen = tag + 2;
            char sign = afterOpen < src.length() ? src.charAt(afterOpen) : 0;
            if (sign != '-' && sign != '+') sign = 0;
            String text = src.substring(pos, tag);
            text = stripBefore(text, sign, kind != '{');
            emitData(text);
            pos = afterOpen + (sign != 0 ? 1 : 0);
            if (kind == '#') lexComment();
            else if (kind == '%' && isRawBegin(tag)) lexRaw();
            else lexTag(kind == '{' ? Type.VAR_BEGIN : Type.BLOCK_BEGIN);
        }
        out.add(new Token(Type.EOF, "", null, line));
    }

    /** The next "{{", "{%" or "{#" at or after from, or -1. */
    private int findTagStart(int from) {
        for (int i = src.indexOf('{', from); i >= 0 && i + 1 < src.length(); i = src.indexOf('{', i + 1)) {
            char c = src.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') return i;
        }
        return -1;
    }

    /** Whitespace control on the text in front of a tag: "-" strips all trailing whitespace, lstrip_blocks the line's indent. */
    private String stripBefore(String text, char sign, boolean lstripCandidate) {
        if (sign == '-') return Str.rstrip(text, null);
        if (sign == '+' || !lstripCandidate) return text;
        int lpos = text.lastIndexOf('\n') + 1;
        if ((lpos > 0 || lineStarting) && lpos < text.length() && Str.isAllSpace(text, lpos)) return text.substring(0, lpos);
        return text;
    }

    private void emitData(String text) {
        if (!text.isEmpty()) out.add(new Token(Type.DATA, text, null, line));
        line += count(text, '\n');
    }

    private static int count(String s, char c) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) == c) n++;
        return n;
    }

    /** After a tag's closing delimiter: "-" eats all whitespace, "+" nothing, else (blocks, comments) one newline. */
    private void afterClose(char sign, boolean trimBlock) {
        int start = pos;
        if (sign == '-') {
            while (pos < src.length() && Str.isSpace(src.charAt(pos))) pos++;
        } else if (sign != '+' && trimBlock && pos < src.length() && src.charAt(pos) == '\n') {
            pos++;
        }
        line += count(src.substring(start, pos), '\n');
        lineStarting = src.charAt(pos - 1) == '\n';
    }

    private void lexComment() {
        int end = src.indexOf("#}", pos);
        if (end < 0) throw TemplateException.syntax("Missing end of comment tag", line);
        char sign = end - 1 >= pos ? src.charAt(end - 1) : 0;
        if (sign != '-' && sign != '+') sign = 0;
        line += count(src.substring(pos, end), '\n');
        pos = end + 2;
        afterClose(sign, true);
    }

    private boolean isRawBegin(int tag) {
        int i = tag + 2;
        if (i < src.length() && (src.charAt(i) == '-' || src.charAt(i) == '+')) i++;
        while (i < src.length() && Str.isSpace(src.charAt(i))) i++;
        if (!src.startsWith("raw", i)) return false;
        i += 3;
        while (i < src.length() && Str.isSpace(src.charAt(i))) i++;
        if (i < src.length() && src.charAt(i) == '-') i++;
        return src.startsWith("%}", i);
    }

    /** {% raw %}...{% endraw %}: the body is data, verbatim; {% raw -%} strips after, never a trimmed newline. */
    private void lexRaw() {
        int close = src.indexOf("%}", pos);
        char sign = src.charAt(close - 1) == '-' ? '-' : 0;
        pos = close + 2;
        if (sign == '-') while (pos < src.length() && Str.isSpace(src.charAt(pos))) pos++;
        lineStarting = src.charAt(pos - 1) == '\n';
        int bodyStart = pos;
        for (int i = src.indexOf("{%", pos); i >= 0; i = src.indexOf("{%", i + 1)) {
            int j = i + 2;
            char esign = j < src.length() && (src.charAt(j) == '-' || src.charAt(j) == '+') ? src.charAt(j) : 0;
            if (esign != 0) j++;
            while (j < src.length() && Str.isSpace(src.charAt(j))) j++;
            if (!src.startsWith("endraw", j)) continue;
            j += 6;
            while (j < src.length() && Str.isSpace(src.charAt(j))) j++;
            char csign = 0;
            if (j < src.length() && (src.charAt(j) == '-' || src.charAt(j) == '+')) csign = src.charAt(j++);
            if (!src.startsWith("%}", j)) continue;
            emitData(stripBefore(src.substring(bodyStart, i), esign, true));
            pos = j + 2;
            afterClose(csign, true);
            return;
        }
        throw TemplateException.syntax("Missing end of raw directive", line);
    }

    private void lexTag(Type begin) {
        out.add(new Token(begin, begin == Type.VAR_BEGIN ? "{{" : "{%", null, line));
        int depth = 0;
        while (true) {
            while (pos < src.length() && Str.isSpace(src.charAt(pos))) {
                if (src.charAt(pos) == '\n') line++;
                pos++;
            }
            if (pos >= src.length()) throw TemplateException.syntax("unexpected end of template, expected end of " + (begin == Type.VAR_BEGIN ? "print statement" : "block"), line);
            if (depth == 0 && closes(begin)) return;
            char c = src.charAt(pos);
            if (c == '\'' || c == '"') {
                lexString(c);
            } else if (Character.isDigit(c)) {
                lexNumber();
            } else if (Character.isLetter(c) || c == '_') {
                int s = pos;
                while (pos < src.length() && (Character.isLetterOrDigit(src.charAt(pos)) || src.charAt(pos) == '_')) pos++;
                out.add(new Token(Type.NAME, src.substring(s, pos), null, line));
            } else {
                String op = null;
                for (String o : OPERATORS) {
                    if (src.startsWith(o, pos)) {
                        op = o;
                        break;
                    }
                }
                if (op == null) throw TemplateException.syntax("unexpected char " + Py.repr(String.valueOf(c)) + " at " + pos, line);
                if (op.equals("(") || op.equals("[") || op.equals("{")) depth++;
                else if (op.equals(")") || op.equals("]") || op.equals("}")) {
                    if (depth == 0) throw TemplateException.syntax("unexpected '" + op + "'", line);
                    depth--;
                }
                pos += op.length();
                out.add(new Token(Type.OP, op, null, line));
            }
        }
    }

    /** At the closing delimiter of the current tag (with its sign)? Consumes it. */
    private boolean closes(Type begin) {
        String close = begin == Type.VAR_BEGIN ? "}}" : "%}";
        char sign = 0;
        int at = pos;
        if ((src.charAt(at) == '-' || (src.charAt(at) == '+' && begin == Type.BLOCK_BEGIN)) && src.startsWith(close, at + 1)) {
            sign = src.charAt(at);
            at++;
        } else if (!src.startsWith(close, at)) {
            return false;
        }
        pos = at + 2;
        out.add(new Token(begin == Type.VAR_BEGIN ? Type.VAR_END : Type.BLOCK_END, close, null, line));
        if (begin == Type.VAR_BEGIN) {
            if (sign == '-') afterClose('-', false);
            else lineStarting = false;
        } else {
            afterClose(sign, true);
        }
        return true;
    }

    private void lexString(char quote) {
        int s = pos++;
        StringBuilder raw = new StringBuilder();
        while (true) {
            if (pos >= src.length()) throw TemplateException.syntax("unexpected end of string", line);
            char c = src.charAt(pos);
            if (c == '\\' && pos + 1 < src.length()) {
                raw.append(c).append(src.charAt(pos + 1));
                pos += 2;
                continue;
            }
            pos++;
            if (c == quote) break;
            raw.append(c);
        }
        String value = unicodeEscape(raw.toString());
        out.add(new Token(Type.STRING, src.substring(s, pos), value, line));
        line += count(src.substring(s, pos), '\n');
    }

    /**
     * Python's {@code s.encode("ascii", "backslashreplace").decode("unicode-escape")}, which jinja2 applies to string
     * literals: Python escapes (\n, \t, \\, \', \xhh, \\uXXXX, \\UXXXXXXXX, octal) are decoded, unknown ones kept.
     */
    static String unicodeEscape(String s) {
        if (s.indexOf('\\') < 0) return s;
        StringBuilder ascii = new StringBuilder();
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            if (c < 0x80) ascii.append((char) c);
            else if (c <= 0xff) ascii.append(String.format("\\x%02x", c));
            else if (c <= 0xffff) ascii.append(String.format("\\u%04x", c));
            else ascii.append(String.format("\\U%08x", c));
        }
        String a = ascii.toString();
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < a.length(); i++) {
            char c = a.charAt(i);
            if (c != '\\' || i + 1 >= a.length()) {
                sb.append(c);
                continue;
            }
            char e = a.charAt(++i);
            switch (e) {
                case '\n' -> { }
                case '\\' -> sb.append('\\');
                case '\'' -> sb.append('\'');
                case '"' -> sb.append('"');
                case 'a' -> sb.append('\u0007');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'v' -> sb.append('\u000b');
                case 'N' -> {
                    int close = a.indexOf('}', i);
                    if (i + 1 >= a.length() || a.charAt(i + 1) != '{' || close < 0) throw TemplateException.syntax("malformed \\N character escape", 0);
                    try {
                        sb.appendCodePoint(Character.codePointOf(a.substring(i + 2, close)));
                    } catch (IllegalArgumentException ex) {
                        throw TemplateException.syntax("unknown Unicode character name", 0);
                    }
                    i = close;
                }
                case 'x', 'u', 'U' -> {
                    int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    String hex = a.substring(i + 1, Math.min(a.length(), i + 1 + n));
                    if (hex.length() < n || !hex.chars().allMatch(ch -> Character.digit(ch, 16) >= 0))
                        throw TemplateException.syntax("truncated \\" + e + " escape", 0);
                    sb.appendCodePoint(Integer.parseInt(hex, 16));
                    i += n;
                }
                default -> {
                    if (e >= '0' && e <= '7') {
                        int v = e - '0', k = 1;
                        while (k < 3 && i + 1 < a.length() && a.charAt(i + 1) >= '0' && a.charAt(i + 1) <= '7') {
                            v = v * 8 + (a.charAt(++i) - '0');
                            k++;
                        }
                        sb.append((char) v);
                    } else {
                        sb.append('\\').append(e);
                    }
                }
            }
        }
        return sb.toString();
    }

    private void lexNumber() {
        int s = pos;
        boolean afterDot = s > 0 && src.charAt(s - 1) == '.';
        digits();
        boolean isFloat = false;
        if (!afterDot) {
            int save = pos;
            if (pos + 1 < src.length() && src.charAt(pos) == '.' && Character.isDigit(src.charAt(pos + 1))) {
                pos++;
                digits();
                isFloat = true;
            }
            int beforeExp = pos;
            if (pos < src.length() && (src.charAt(pos) == 'e' || src.charAt(pos) == 'E')) {
                int p = pos + 1;
                if (p < src.length() && (src.charAt(p) == '+' || src.charAt(p) == '-')) p++;
                if (p < src.length() && Character.isDigit(src.charAt(p))) {
                    pos = p;
                    digits();
                    isFloat = true;
                } else {
                    pos = beforeExp;
                }
            }
            if (!isFloat) pos = save;
        }
        String text = src.substring(s, pos);
        String clean = text.replace("_", "");
        Object value = isFloat ? (Object) Double.parseDouble(clean) : Py.normInt(new BigInteger(clean));
        out.add(new Token(isFloat ? Type.FLOAT : Type.INT, text, value, line));
    }

    private void digits() {
        while (pos < src.length() && (Character.isDigit(src.charAt(pos))
                || (src.charAt(pos) == '_' && pos + 1 < src.length() && Character.isDigit(src.charAt(pos + 1))))) pos++;
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
