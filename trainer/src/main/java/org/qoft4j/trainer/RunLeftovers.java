package org.qoft4j.trainer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.qoft4j.core.AtomicFiles;

/**
 * What writes killed midway leave in a run's output directory: the hidden temporaries of {@code AtomicDirectories}
 * ({@code .step-000010.tmp-x}, {@code .adapter.old-x}, ...) and of {@code AtomicFiles} ({@code .metrics.jsonl.x.tmp}).
 * They are never taken for results, but they take space; removed only while the run's lock is held, when no other
 * qoft4j process can be writing them. Nothing else (a user's own hidden files) matches these names.
 */
final class RunLeftovers {
    /** {@code AtomicDirectories}' temporary, replaced and deleted directories of a checkpoint or the adapter. */
    private static final Pattern DIRECTORY = Pattern.compile("\\.(adapter|step-\\d{6,})\\.(tmp|old|del)-[0-9a-z]+");
    /** {@code AtomicFiles.tempBeside}: {@code .NAME.RANDOM.tmp} (RANDOM: a long in base 36). */
    private static final Pattern FILE = Pattern.compile("\\.[\\w.-]+\\.[0-9a-z]{1,13}\\.tmp");

    private RunLeftovers() {}

    /** Removes the leftovers in {@code outDir} and {@code outDir/checkpoints}; returns what it removed. */
    static List<Path> clean(Path outDir) {
        List<Path> removed = new ArrayList<>();
        for (Path d : List.of(outDir, outDir.resolve("checkpoints"))) {
            if (!Files.isDirectory(d)) continue;
            try (Stream<Path> s = Files.list(d)) {
                for (Path p : s.sorted().toList()) {
                    String name = p.getFileName().toString();
                    boolean dir = Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS);
                    if (dir ? DIRECTORY.matcher(name).matches() : FILE.matcher(name).matches()) {
                        AtomicFiles.deleteTree(p);
                        removed.add(p);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove leftovers in " + d + ": " + e.getMessage(), e);
            }
        }
        return removed;
    }
}
