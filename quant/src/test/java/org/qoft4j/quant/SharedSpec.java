package org.qoft4j.quant;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates {@code ../shared/spec} beside the repository root (absent in users' clones: tests then skip).
 * In a git worktree the folder sits beside the main checkout, which {@code .git} (a file there) points to.
 */
public final class SharedSpec {
    private SharedSpec() {}

    /** The spec file, or a path that does not exist when the shared folder is absent. */
    public static Path file(String name) {
        Path dir = Path.of("").toAbsolutePath();
        try {
            for (; dir != null; dir = dir.getParent()) {
                Path pom = dir.resolve("pom.xml");
                if (Files.exists(pom) && Files.readString(pom).contains("<modules>")) {
                    Path spec = dir.resolveSibling("shared").resolve("spec").resolve(name);
                    Path git = dir.resolve(".git");
                    if (Files.exists(spec) || !Files.isRegularFile(git)) return spec;
                    // "gitdir: MAIN/.git/worktrees/NAME"
                    Path gitdir = Path.of(Files.readString(git).trim().substring("gitdir:".length()).trim());
                    Path main = gitdir.getParent().getParent().getParent();
                    return main.resolveSibling("shared").resolve("spec").resolve(name);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Path.of("shared-spec-not-found", name);
    }
}
