package org.qoft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layout docs/DESIGN.md describes, checked on the sources so that it cannot drift: modules depend only on the
 * modules below them, packages form no circle, library modules carry no command-line or charting code and print
 * nothing, long files say why they are long, and nothing cites a document outside the repository.
 */
class ArchitectureTest {
    /** Each module and the project modules its main code may use (the poms declare the same; this is the design). */
    static final Map<String, Set<String>> ALLOWED = new TreeMap<>(Map.ofEntries(
            Map.entry("core", Set.of()),
            Map.entry("quant", Set.of("core")),
            Map.entry("native", Set.of("quant", "core")),
            Map.entry("adapters", Set.of("quant", "core")),
            Map.entry("data", Set.of("core")),
            Map.entry("model", Set.of("adapters", "quant", "core")),
            Map.entry("trainer", Set.of("model", "data", "adapters", "quant", "core")),
            Map.entry("gguf", Set.of("model", "data", "adapters", "quant", "core")),
            Map.entry("cli", Set.of("trainer", "gguf", "model", "data", "adapters", "quant", "native", "core")),
            Map.entry("examples", Set.of("cli", "trainer", "gguf", "model", "data", "adapters", "quant", "native", "core")),
            Map.entry("bench", Set.of("cli", "trainer", "gguf", "model", "data", "adapters", "quant", "native", "core"))));
    static final Set<String> LIBRARIES = Set.of("core", "quant", "native", "adapters", "data", "model", "trainer", "gguf");
    static final Pattern IMPORT = Pattern.compile("^import (?:static )?([\\w.]+)\\.[A-Za-z_*][\\w*]*;", Pattern.MULTILINE);
    static final Pattern PACKAGE = Pattern.compile("^package ([\\w.]+);", Pattern.MULTILINE);
    static final Pattern QUALIFIED = Pattern.compile("\\b(org\\.qoft4j(?:\\.[a-z]\\w*)+)\\.[A-Z]");
    static final int LONG_FILE = 400;

    static Path root;
    static final Map<Path, String> sources = new TreeMap<>(); // main sources -> text
    static final Map<String, String> moduleOfPackage = new HashMap<>();

    @BeforeAll
    static void read() throws IOException {
        root = Path.of("").toAbsolutePath();
        if (!Files.isRegularFile(root.resolve("pom.xml")) || !Files.isDirectory(root.resolve("core"))) root = root.getParent();
        for (String module : ALLOWED.keySet()) {
            Path src = root.resolve(module).resolve("src/main/java");
            if (!Files.isDirectory(src)) continue;
            try (Stream<Path> s = Files.walk(src)) {
                for (Path p : s.filter(f -> f.toString().endsWith(".java")).toList()) {
                    String text = Files.readString(p);
                    sources.put(root.relativize(p), text);
                    Matcher m = PACKAGE.matcher(text);
                    if (m.find()) moduleOfPackage.putIfAbsent(m.group(1), module);
                }
            }
        }
        assertTrue(sources.size() > 100, "found the sources under " + root);
    }

    static String module(Path source) {
        return source.getName(0).toString();
    }

    static String packageOf(String text) {
        Matcher m = PACKAGE.matcher(text);
        return m.find() ? m.group(1) : "";
    }

    /** The code of a source file without its comments (a javadoc link is not a dependency, nor an example in it). */
    static String code(String text) {
        return text.replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("(?m)^\\s*//.*$", "");
    }

    /** The project packages a source file uses: its imports and fully qualified names in its code. */
    static Set<String> uses(String text) {
        Set<String> used = new LinkedHashSet<>();
        Matcher m = IMPORT.matcher(text);
        while (m.find()) if (m.group(1).startsWith("org.qoft4j")) used.add(m.group(1));
        m = QUALIFIED.matcher(code(text).replaceAll("(?m)^(package|import) .*$", ""));
        while (m.find()) used.add(m.group(1));
        used.removeIf(p -> !moduleOfPackage.containsKey(p)); // a nested class's outer class, not a package
        return used;
    }

    @Test
    void modulesUseOnlyTheModulesBelowThem() {
        List<String> bad = new ArrayList<>();
        sources.forEach((file, text) -> {
            String own = module(file);
            for (String p : uses(text)) {
                String other = moduleOfPackage.get(p);
                if (!other.equals(own) && !ALLOWED.get(own).contains(other)) bad.add(file + " (" + own + ") uses " + p + " (" + other + ")");
            }
        });
        assertEquals(List.of(), bad);
    }

    @Test
    void packagesFormNoCircle() {
        Map<String, Set<String>> graph = new TreeMap<>();
        sources.forEach((file, text) -> {
            String own = packageOf(text);
            Set<String> out = graph.computeIfAbsent(own, k -> new TreeSet<>());
            for (String p : uses(text)) if (!p.equals(own)) out.add(p);
        });
        List<String> cycles = new ArrayList<>();
        Set<String> done = new HashSet<>();
        for (String start : graph.keySet()) findCycle(start, graph, new ArrayList<>(), new HashSet<>(), done, cycles);
        assertEquals(List.of(), cycles);
    }

    private static void findCycle(String p, Map<String, Set<String>> g, List<String> path, Set<String> onPath, Set<String> done, List<String> cycles) {
        if (onPath.contains(p)) {
            cycles.add(String.join(" -> ", path.subList(path.indexOf(p), path.size())) + " -> " + p);
            return;
        }
        if (!done.add(p)) return;
        path.add(p);
        onPath.add(p);
        for (String q : g.getOrDefault(p, Set.of())) findCycle(q, g, path, onPath, done, cycles);
        onPath.remove(p);
        path.remove(path.size() - 1);
    }

    @Test
    void librariesHaveNoCommandLineChartsOrConsoleOutput() {
        List<String> bad = new ArrayList<>();
        Pattern forbidden = Pattern.compile("^import (picocli|org\\.knowm\\.xchart|me\\.tongfei|org\\.slf4j\\.simple)\\b.*$|System\\.(out|err)\\.",
                Pattern.MULTILINE);
        sources.forEach((file, text) -> {
            if (!LIBRARIES.contains(module(file))) return;
            Matcher m = forbidden.matcher(code(text));
            while (m.find()) bad.add(file + ": " + m.group().trim());
        });
        assertEquals(List.of(), bad, "library modules log through the SLF4J API only and leave the console to the application");
    }

    /** Issue 12: a tensor becomes a Java number only through core's HostReads, which counts the reads (one per training step). */
    @Test
    void librariesReadTensorValuesOnlyThroughHostReads() {
        List<String> bad = new ArrayList<>();
        Pattern item = Pattern.compile("(?<=[\\w)])\\.item(_\\w+)?\\(\\)"); // a call, not "Python's .item()" in a comment
        sources.forEach((file, text) -> {
            if (!LIBRARIES.contains(module(file))) return;
            Matcher m = item.matcher(code(text));
            while (m.find()) bad.add(file + ": " + m.group());
        });
        assertEquals(List.of(), bad, "read tensor values with org.qoft4j.core.HostReads (scalar, doubles) or Tensors.toFloats & co.");
    }

    @Test
    void longFilesSayWhyTheyAreLong() {
        List<String> bad = new ArrayList<>();
        sources.forEach((file, text) -> {
            long lines = text.lines().count();
            if (lines > LONG_FILE && !text.contains("Longer than " + LONG_FILE + " lines because"))
                bad.add(file + ": " + lines + " lines");
        });
        assertEquals(List.of(), bad, "split the file, or say at its top why it is long (\"Longer than " + LONG_FILE + " lines because ...\")");
    }

    @Test
    void documentsCitedAreInTheRepository() throws IOException {
        List<String> bad = new ArrayList<>();
        Pattern cite = Pattern.compile("(\\.\\./shared|(?<![\\w/])DESIGN\\.md|docs/[\\w.-]+\\.md)");
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(f -> f.toString().endsWith(".java") && !f.toString().contains("/target/")
                    && !f.endsWith("ArchitectureTest.java")).toList()) {
                Matcher m = cite.matcher(Files.readString(p));
                while (m.find()) {
                    String doc = m.group(1);
                    if (doc.equals("DESIGN.md") || doc.startsWith("../shared") && !p.toString().contains("/src/test/"))
                        bad.add(root.relativize(p) + " cites " + doc);
                    else if (doc.startsWith("docs/") && !Files.isRegularFile(root.resolve(doc))) bad.add(root.relativize(p) + " cites missing " + doc);
                }
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        assertEquals(List.of(), bad);
    }
}
