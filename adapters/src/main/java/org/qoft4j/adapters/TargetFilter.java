package org.qoft4j.adapters;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PEFT's module selection beyond {@code target_modules}: {@code exclude_modules}, {@code layers_to_transform} and
 * {@code layers_pattern}, applied as PEFT's {@code check_target_module_exists} applies them:
 * <ul>
 * <li>an excluded module is never adapted (list: the path equals a name or ends with {@code "." + name}; string: a
 * regular expression matched against the whole path);</li>
 * <li>{@code layers_to_transform} keeps only modules of those decoder layers, and only when {@code target_modules}
 * is a list (or {@code all-linear}, which PEFT expands to a list): a regex target ignores it, as in PEFT. The layer
 * index is the first numbered path segment ({@code model.layers.3.mlp.up_proj} -> 3), or the number after one of
 * {@code layers_pattern}.</li>
 * </ul>
 *
 * @param exclude       {@code exclude_modules}, or null
 * @param layers        {@code layers_to_transform}, or null for every layer (PEFT treats an empty list the same)
 * @param layersPattern {@code layers_pattern}, or null
 */
public record TargetFilter(TargetModules exclude, List<Integer> layers, List<String> layersPattern) {
    /** Nothing excluded, every layer. */
    public static final TargetFilter NONE = new TargetFilter(null, null, null);

    private static final Pattern FIRST_INDEX = Pattern.compile(".*?\\.[^.]*\\.(\\d+)\\.");

    public TargetFilter {
        layers = layers == null || layers.isEmpty() ? null : List.copyOf(layers.stream().sorted().distinct().toList());
        layersPattern = layersPattern == null || layersPattern.isEmpty() ? null : List.copyOf(layersPattern);
        if (layers != null && layers.stream().anyMatch(i -> i < 0))
            throw new IllegalArgumentException("layers_to_transform must list layer indices >= 0, got " + layers);
        if (layersPattern != null && layers == null)
            throw new IllegalArgumentException("layers_pattern " + layersPattern + " needs layers_to_transform (as in PEFT)");
    }

    /** Whether PEFT adapts {@code modulePath}, given that {@code targets} names it. */
    public boolean admits(String modulePath, TargetModules targets) {
        if (exclude != null && exclude.matches(modulePath)) return false;
        if (layers == null || isRegex(targets)) return true;
        Integer index = layerIndex(modulePath);
        return index != null && layers.contains(index);
    }

    private static boolean isRegex(TargetModules targets) {
        return targets.pattern() != null && !targets.pattern().equals(TargetModules.ALL_LINEAR);
    }

    /** The decoder-layer index in {@code path}, found as PEFT finds it; null when there is none. */
    Integer layerIndex(String path) {
        if (layersPattern == null) {
            Matcher m = FIRST_INDEX.matcher(path);
            return m.lookingAt() ? Integer.valueOf(m.group(1)) : null;
        }
        for (String p : layersPattern) {
            Matcher m = Pattern.compile(".*?\\." + p + "\\.(\\d+)\\.").matcher(path);
            if (m.lookingAt()) return Integer.valueOf(m.group(1));
        }
        return null;
    }

    @Override
    public String toString() {
        return (exclude == null ? "" : "excluding " + exclude) + (layers == null ? "" : (exclude == null ? "" : ", ") + "layers " + layers);
    }
}
