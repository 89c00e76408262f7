package org.qoft4j.data.template;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Python {@code str} operations with Python's definitions (whitespace, line boundaries, case mapping, code point indices). */
final class Str {
    private Str() {
    }

    /** Python's str.isspace for one code point. */
    static boolean isSpace(int c) {
        return switch (c) {
            case '\t', '\n', 0x0b, 0x0c, '\r', 0x1c, 0x1d, 0x1e, 0x1f, ' ', 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000 -> true;
            default -> c >= 0x2000 && c <= 0x200a;
        };
    }

    static boolean isAllSpace(String s, int from) {
        for (int i = from; i < s.length(); i++) if (!isSpace(s.charAt(i))) return false;
        return true;
    }

    private static boolean inSet(int c, String chars) {
        return chars == null ? isSpace(c) : chars.indexOf(c) >= 0 || (Character.isSupplementaryCodePoint(c) && chars.contains(Character.toString(c)));
    }

    static String strip(String s, String chars) {
        return rstrip(lstrip(s, chars), chars);
    }

    static String lstrip(String s, String chars) {
        int i = 0;
        while (i < s.length()) {
            int c = s.codePointAt(i);
            if (!inSet(c, chars)) break;
            i += Character.charCount(c);
        }
        return s.substring(i);
    }

    static String rstrip(String s, String chars) {
        int j = s.length();
        while (j > 0) {
            int c = s.codePointBefore(j);
            if (!inSet(c, chars)) break;
            j -= Character.charCount(c);
        }
        return s.substring(0, j);
    }

    /** Python's str.split(sep, maxsplit). */
    static List<Object> split(String s, String sep, long maxsplit) {
        List<Object> r = new ArrayList<>();
        if (maxsplit < 0) maxsplit = Long.MAX_VALUE;
        if (sep == null) {
            int i = 0, n = s.length();
            while (true) {
                while (i < n && isSpace(s.charAt(i))) i++;
                if (i >= n) break;
                if (r.size() == maxsplit) {
                    r.add(rstripSpace(s.substring(i)));
                    break;
                }
                int j = i;
                while (j < n && !isSpace(s.charAt(j))) j++;
                r.add(s.substring(i, j));
                i = j;
            }
            return r;
        }
        if (sep.isEmpty()) throw TemplateException.value("empty separator");
        int i = 0;
        while (r.size() < maxsplit) {
            int j = s.indexOf(sep, i);
            if (j < 0) break;
            r.add(s.substring(i, j));
            i = j + sep.length();
        }
        r.add(s.substring(i));
        return r;
    }

    private static String rstripSpace(String s) {
        return rstrip(s, null);
    }

    /** Python's str.rsplit(sep, maxsplit). */
    static List<Object> rsplit(String s, String sep, long maxsplit) {
        if (maxsplit < 0) return split(s, sep, -1);
        List<Object> r = new ArrayList<>();
        if (sep == null) {
            int j = s.length();
            while (true) {
                while (j > 0 && isSpace(s.charAt(j - 1))) j--;
                if (j <= 0) break;
                if (r.size() == maxsplit) {
                    r.add(0, lstrip(s.substring(0, j), null));
                    break;
                }
                int i = j;
                while (i > 0 && !isSpace(s.charAt(i - 1))) i--;
                r.add(0, s.substring(i, j));
                j = i;
            }
            return r;
        }
        if (sep.isEmpty()) throw TemplateException.value("empty separator");
        int j = s.length();
        while (r.size() < maxsplit) {
            int i = s.lastIndexOf(sep, j - sep.length());
            if (i < 0) break;
            r.add(0, s.substring(i + sep.length(), j));
            j = i;
        }
        r.add(0, s.substring(0, j));
        return r;
    }

    private static boolean isLineBreak(char c) {
        return switch (c) {
            case '\n', '\r', 0x0b, 0x0c, 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029 -> true;
            default -> false;
        };
    }

    /** Python's str.splitlines(keepends). */
    static List<Object> splitlines(String s, boolean keepends) {
        List<Object> r = new ArrayList<>();
        int i = 0, n = s.length();
        while (i < n) {
            int j = i;
            while (j < n && !isLineBreak(s.charAt(j))) j++;
            int eol = j;
            if (j < n) {
                j += s.charAt(j) == '\r' && j + 1 < n && s.charAt(j + 1) == '\n' ? 2 : 1;
            }
            r.add(s.substring(i, keepends ? j : eol));
            i = j;
        }
        return r;
    }

    static String upper(String s) {
        return s.toUpperCase(Locale.ROOT);
    }

    static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }

    private static boolean isCased(int c) {
        return Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c);
    }

    private static String titleCase(int c) {
        String t = new String(Character.toChars(Character.toTitleCase(c)));
        // full mappings Python applies that Java's single-code-point toTitleCase lacks (e.g. 'ß' -> 'Ss')
        String up = Character.toString(c).toUpperCase(Locale.ROOT);
        if (up.codePointCount(0, up.length()) > 1) return up.charAt(0) + lower(up.substring(1));
        return t;
    }

    /** Python's str.title(). */
    static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean prevCased = false;
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            sb.append(prevCased ? lower(Character.toString(c)) : titleCase(c));
            prevCased = isCased(c);
        }
        return sb.toString();
    }

    /** Python's str.capitalize() (3.8+: first character in title case, the rest lower case). */
    static String capitalize(String s) {
        if (s.isEmpty()) return s;
        int c = s.codePointAt(0);
        return titleCase(c) + lower(s.substring(Character.charCount(c)));
    }

    static String swapcase(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            String one = Character.toString(c);
            sb.append(Character.isUpperCase(c) ? lower(one) : Character.isLowerCase(c) ? upper(one) : one);
        }
        return sb.toString();
    }

    /** Python's str.replace(old, new, count). */
    static String replace(String s, String old, String rep, long count) {
        if (count < 0) count = Long.MAX_VALUE;
        StringBuilder sb = new StringBuilder();
        if (old.isEmpty()) {
            long n = 0;
            int i = 0;
            for (; i < s.length() && n < count; n++) {
                sb.append(rep);
                int c = s.codePointAt(i);
                sb.appendCodePoint(c);
                i += Character.charCount(c);
            }
            if (n < count) sb.append(rep);
            sb.append(s, i, s.length());
            return sb.toString();
        }
        int i = 0;
        long n = 0;
        while (n < count) {
            int j = s.indexOf(old, i);
            if (j < 0) break;
            sb.append(s, i, j).append(rep);
            i = j + old.length();
            n++;
        }
        sb.append(s, i, s.length());
        return sb.toString();
    }

    /** Code point index to char index (negative counts from the end, clamped like Python slices). */
    static int charIndex(String s, long cpIndex) {
        int n = s.codePointCount(0, s.length());
        if (cpIndex < 0) cpIndex = Math.max(0, cpIndex + n);
        if (cpIndex > n) cpIndex = n;
        return s.offsetByCodePoints(0, (int) cpIndex);
    }

    static long cpIndex(String s, int charIndex) {
        return s.codePointCount(0, charIndex);
    }

    static String center(String s, int width, String fill) {
        int n = s.codePointCount(0, s.length());
        if (width <= n) return s;
        int marg = width - n;
        int left = marg / 2 + (marg & width & 1);
        return fill.repeat(left) + s + fill.repeat(marg - left);
    }

    static boolean isDigit(String s) {
        return !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
    }

    static boolean isAlpha(String s) {
        return !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
    }

    static boolean isAlnum(String s) {
        return !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
    }

    static boolean isLower(String s) {
        boolean cased = false;
        for (int c : s.codePoints().toArray()) {
            if (Character.isUpperCase(c) || Character.isTitleCase(c)) return false;
            if (Character.isLowerCase(c)) cased = true;
        }
        return cased;
    }

    static boolean isUpper(String s) {
        boolean cased = false;
        for (int c : s.codePoints().toArray()) {
            if (Character.isLowerCase(c) || Character.isTitleCase(c)) return false;
            if (Character.isUpperCase(c)) cased = true;
        }
        return cased;
    }
}
