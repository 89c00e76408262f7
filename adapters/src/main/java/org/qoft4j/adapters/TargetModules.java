package org.qoft4j.adapters;

import java.util.List;
import java.util.regex.Pattern;

/**
 * PEFT's {@code target_modules} / {@code exclude_modules}: either a list of names (a module matches when its path
 * equals a name or ends with {@code "." + name}), or one string, which is a regular expression matched against the
 * whole path, or the wildcard {@code "all-linear"} (every linear layer except the output layer {@code lm_head}).
 *
 * @param names   the list form, or null
 * @param pattern the string form, or null
 */
public record TargetModules(List<String> names, String pattern) {
    public static final String ALL_LINEAR = "all-linear";

    /** q, k, v, o, gate, up and down projections: every linear layer of a Llama decoder block. */
    public static final TargetModules LLAMA_ALL_LINEAR =
            of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    public TargetModules {
        if ((names == null) == (pattern == null))
            throw new IllegalArgumentException("target modules are either a list of names or one pattern");
        names = names == null ? null : List.copyOf(names.stream().sorted().distinct().toList());
        if (pattern != null && !pattern.equals(ALL_LINEAR)) Pattern.compile(pattern); // fail early on a bad regex
    }

    public static TargetModules of(String... names) {
        return new TargetModules(List.of(names), null);
    }

    public static TargetModules regex(String pattern) {
        return new TargetModules(null, pattern);
    }

    public boolean matches(String modulePath) {
        if (names != null) {
            for (String n : names)
                if (modulePath.equals(n) || modulePath.endsWith("." + n)) return true;
            return false;
        }
        if (pattern.equals(ALL_LINEAR)) return !(modulePath.equals("lm_head") || modulePath.endsWith(".lm_head"));
        return Pattern.compile(pattern).matcher(modulePath).matches();
    }

    @Override
    public String toString() {
        return names != null ? names.toString() : "'" + pattern + "'";
    }
}
