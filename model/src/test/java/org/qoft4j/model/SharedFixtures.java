package org.qoft4j.model;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates {@code ../shared} (read-only fixtures next to the repository); tests that need it skip when absent. */
public final class SharedFixtures {
    private SharedFixtures() {}

    /** The repository root: the nearest ancestor of the working directory whose pom.xml lists modules. */
    public static Path repoRoot() {
        Path p = Path.of("").toAbsolutePath();
        for (Path d = p; d != null; d = d.getParent()) {
            Path pom = d.resolve("pom.xml");
            try {
                if (Files.isRegularFile(pom) && Files.readString(pom).contains("<modules>")) return d;
            } catch (java.io.IOException ignored) {
                // unreadable pom: keep walking up
            }
        }
        return p;
    }

    public static Path shared() {
        return repoRoot().resolve("..").resolve("shared").normalize();
    }

    public static Path stories260K() {
        return shared().resolve("models").resolve("stories260K.bin");
    }
}
