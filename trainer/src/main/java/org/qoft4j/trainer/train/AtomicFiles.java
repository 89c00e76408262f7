package org.qoft4j.trainer.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Outputs that are either complete or absent: a file or a whole directory is written under a hidden temporary
 * name in the same parent directory and renamed into place. Hidden names (a leading dot) are never taken for
 * results, so what a crash leaves behind is ignored.
 */
public final class AtomicFiles {
    /** Writes the contents of a directory that does not exist yet. */
    @FunctionalInterface
    public interface DirectoryWriter {
        void writeInto(Path dir) throws IOException;
    }

    private AtomicFiles() {}

    public static void write(Path file, byte[] bytes) {
        Path abs = file.toAbsolutePath();
        Path tmp = null;
        try {
            Files.createDirectories(abs.getParent());
            tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
            Files.write(tmp, bytes);
            move(tmp, abs);
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Creates directory {@code target} with the contents {@code writer} puts into a temporary directory, or replaces
     * an existing one: the old directory is renamed aside first and deleted once the new one is in place. If the
     * writer fails, the temporary directory is deleted and {@code target} is left as it was.
     */
    public static void writeDirectory(Path target, DirectoryWriter writer) throws IOException {
        Path abs = target.toAbsolutePath().normalize();
        Files.createDirectories(abs.getParent());
        Path tmp = Files.createTempDirectory(abs.getParent(), "." + abs.getFileName() + ".tmp-");
        try {
            writer.writeInto(tmp);
        } catch (IOException | RuntimeException | Error e) {
            deleteQuietly(tmp);
            throw e;
        }
        Path old = null;
        if (Files.exists(abs)) {
            old = abs.resolveSibling("." + abs.getFileName() + ".old-" + System.nanoTime());
            move(abs, old);
        }
        move(tmp, abs);
        if (old != null) deleteTree(old);
    }

    /** Deletes a directory tree: renamed to a hidden name first, so a partly deleted tree never looks complete. */
    public static void deleteDirectory(Path dir) throws IOException {
        Path abs = dir.toAbsolutePath().normalize();
        Path hidden = abs.resolveSibling("." + abs.getFileName() + ".del-" + System.nanoTime());
        move(abs, hidden);
        deleteTree(hidden);
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) return;
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                if (exc != null) throw exc;
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    private static void deleteQuietly(Path p) {
        if (p == null) return;
        try {
            if (Files.isDirectory(p)) deleteTree(p);
            else Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // the error being reported is the one that matters
        }
    }
}
