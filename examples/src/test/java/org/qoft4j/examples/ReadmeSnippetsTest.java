package org.qoft4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * README's Java snippets, compiled and run as a user would: each {@code ```java} block becomes the body of a
 * {@code main} (with the imports README tells a user to add), compiled against the project's jars and run in a
 * child JVM whose working directory holds the repository's {@code test-data} — one after the other, so a later
 * snippet can use what an earlier one wrote. A snippet that does not compile, throws, or prints something other
 * than its {@code // prints:} comment says fails the build: the documented API cannot drift from the code.
 */
class ReadmeSnippetsTest {
    static final Pattern BLOCK = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
    /** A comment {@code // prints: REGEX} in a snippet: a line of its output must match REGEX. */
    static final Pattern PRINTS = Pattern.compile("//\\s*prints:\\s*(.+)$", Pattern.MULTILINE);

    @TempDir
    Path work;

    @Test
    void everyJavaSnippetCompilesAndRuns() throws Exception {
        Path root = repositoryRoot();
        String readme = Files.readString(root.resolve("README.md"));
        List<String> snippets = new ArrayList<>();
        Matcher m = BLOCK.matcher(readme);
        while (m.find()) snippets.add(m.group(1));
        assertTrue(snippets.size() >= 2, "README has Java snippets");
        Files.createSymbolicLink(work.resolve("test-data"), root.resolve("test-data"));
        Path classes = Files.createDirectories(work.resolve("classes"));
        for (int i = 0; i < snippets.size(); i++) {
            String name = "ReadmeSnippet" + (i + 1);
            compile(name, source(name, snippets.get(i)), classes);
            String out = run(name, classes);
            Matcher p = PRINTS.matcher(snippets.get(i));
            while (p.find()) {
                Pattern want = Pattern.compile(p.group(1).trim());
                assertTrue(out.lines().anyMatch(l -> want.matcher(l).find()), name + ": no output line matches '" + want + "' in:\n" + out);
            }
        }
    }

    /** A class around the snippet; the snippet's own {@code import} lines go to the top. */
    static String source(String name, String snippet) {
        StringBuilder imports = new StringBuilder(), body = new StringBuilder();
        for (String line : snippet.split("\n")) (line.startsWith("import ") ? imports : body).append(line).append('\n');
        return imports + "\npublic class " + name + " {\n    public static void main(String[] args) throws Exception {\n" + body + "    }\n}\n";
    }

    static void compile(String name, String source, Path classes) throws IOException {
        Path file = classes.resolve(name + ".java");
        Files.writeString(file, source);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StringWriter diagnostics = new StringWriter();
        boolean ok = javac.getTask(diagnostics, null, null, List.of("-d", classes.toString(), "-cp", System.getProperty("java.class.path")),
                null, javac.getStandardFileManager(null, null, StandardCharsets.UTF_8).getJavaFileObjects(file)).call();
        assertTrue(ok, "README snippet " + name + " does not compile:\n" + diagnostics + "\n" + source);
    }

    String run(String name, Path classes) throws Exception {
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(javaBin.toString(), "-Xss8m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp", classes + java.io.File.pathSeparator + System.getProperty("java.class.path"), name)
                .directory(work.toFile()).redirectErrorStream(true);
        pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
        Process p = pb.start();
        byte[] bytes = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(10, TimeUnit.MINUTES), name + " did not finish");
        String out = new String(bytes, StandardCharsets.UTF_8);
        System.out.print(out);
        assertEquals(0, p.exitValue(), name + " failed:\n" + out);
        return out;
    }

    static Path repositoryRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent())
            if (Files.isRegularFile(p.resolve("README.md")) && Files.isDirectory(p.resolve("test-data"))) return p;
        throw new IllegalStateException("README.md not found above " + Path.of("").toAbsolutePath());
    }
}
