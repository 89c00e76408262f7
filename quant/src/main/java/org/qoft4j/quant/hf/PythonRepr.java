package org.qoft4j.quant.hf;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;

/**
 * Formats a double exactly as Python's {@code repr(float)} (and so {@code json.dumps}) does: the shortest
 * decimal string that reads back as the same double, in positional notation when the decimal exponent
 * is in [-4, 16) and otherwise as {@code d.ddde±XX} (e.g. {@code 1e-05}, {@code 0.0001}, {@code 1e+16},
 * {@code 3.0}). Files written by Python tools then compare byte for byte.
 */
public final class PythonRepr {
    private PythonRepr() {}

    public static String of(double x) {
        if (Double.isNaN(x)) return "NaN";   // json.dumps spelling
        if (Double.isInfinite(x)) return x > 0 ? "Infinity" : "-Infinity";
        if (x == 0) return (1 / x < 0) ? "-0.0" : "0.0";
        String sign = x < 0 ? "-" : "";
        BigDecimal shortest = shortest(Math.abs(x));
        String digits = shortest.unscaledValue().toString();   // no trailing zeros (stripped)
        // value = 0.d1d2...dn * 10^decpt
        int decpt = shortest.precision() - shortest.scale();
        StringBuilder s = new StringBuilder(sign);
        if (decpt > -4 && decpt <= 16) {
            if (decpt <= 0) {
                s.append("0.").append("0".repeat(-decpt)).append(digits);
            } else if (decpt >= digits.length()) {
                s.append(digits).append("0".repeat(decpt - digits.length())).append(".0");
            } else {
                s.append(digits, 0, decpt).append('.').append(digits.substring(decpt));
            }
        } else {
            int exp = decpt - 1;
            s.append(digits.charAt(0));
            if (digits.length() > 1) s.append('.').append(digits.substring(1));
            s.append('e').append(exp < 0 ? '-' : '+');
            String e = Integer.toString(Math.abs(exp));
            s.append(e.length() < 2 ? "0" + e : e);
        }
        return s.toString();
    }

    /**
     * The shortest decimal that reads back as {@code x} (x > 0, finite); among equally short ones the
     * closest to x, as Python's dtoa picks.
     */
    private static BigDecimal shortest(double x) {
        BigDecimal exact = new BigDecimal(x);
        for (int p = 1; p <= 17; p++) {
            BigDecimal best = null;
            for (RoundingMode mode : new RoundingMode[] {RoundingMode.HALF_EVEN, RoundingMode.FLOOR, RoundingMode.CEILING}) {
                BigDecimal c = exact.round(new MathContext(p, mode));
                if (c.doubleValue() != x) continue;
                if (best == null || c.subtract(exact).abs().compareTo(best.subtract(exact).abs()) < 0) best = c;
            }
            if (best != null) return best.stripTrailingZeros();
        }
        return exact.round(new MathContext(17, RoundingMode.HALF_EVEN)).stripTrailingZeros();
    }
}
