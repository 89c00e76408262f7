package org.qoft4j.trainer;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * The {@code neumann-terms} option: a fixed number of Cayley-Neumann terms N, or {@code auto} (N chosen between
 * steps from the current ||Q|| by {@link OrthogonalityGuard}). The one parser of the value, for flags, YAML and the
 * Java API; range checks are {@link TrainConfig#problems()}'s, so every bad value is listed with the others.
 *
 * @param fixed N (unused when auto)
 * @param auto  N follows ||Q||
 */
public record NeumannTerms(int fixed, boolean auto) {
    public static final NeumannTerms AUTO = new NeumannTerms(0, true);

    public static NeumannTerms of(int n) {
        return new NeumannTerms(n, false);
    }

    /** {@code auto}, or an integer (as text or a number). */
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    public static NeumannTerms parse(Object value) {
        if (value instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) return of(n.intValue());
        String s = String.valueOf(value).trim().toLowerCase(Locale.ROOT);
        if (s.equals("auto")) return AUTO;
        try {
            return of(Integer.parseInt(s));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("neumann-terms must be an integer 1..8 or auto, got '" + value + "'");
        }
    }

    public boolean isAuto() {
        return auto;
    }

    /** As YAML writes it: the number, or "auto". */
    @JsonValue
    public Object json() {
        return isAuto() ? "auto" : fixed;
    }

    @Override
    public String toString() {
        return isAuto() ? "auto" : Integer.toString(fixed);
    }
}
