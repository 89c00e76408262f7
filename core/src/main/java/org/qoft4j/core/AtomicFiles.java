package org.qoft4j.core;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/** Whole-file writes that never leave a partial file under the target name, and recursive cleanup. */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes {@code content} to a temporary file beside {@code target}, then renames it onto {@code target}. */
    public static void write(Path target, byte[] content) {
        Path temp = null;
        try {
            temp = tempBeside(target, ".tmp");
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                FileWrites.writeFully(ch, ByteBuffer.wrap(content), 0);
            }
            move(temp, target);
        } catch (IOException e) {
            deleteQuietly(temp);
            DiskFullException full = DiskFullException.ifDiskFull(target, e);
            if (full != null) throw full;
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    /**
     * Creates a new empty hidden file beside {@code target} ({@code .NAME.RANDOM.SUFFIX}). Unlike
     * {@link Files#createTempFile}, it gets the permissions of any new file (umask), so the renamed
     * result is as readable as a file written directly.
     */
    public static Path tempBeside(Path target, String suffix) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        for (int attempt = 0; ; attempt++) {
            Path p = dir.resolve("." + target.getFileName() + "." + Long.toUnsignedString(RANDOM.nextLong(), 36) + suffix);
            try {
                return Files.createFile(p);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                if (attempt > 100) throw e;
            }
        }
    }

    /**
     * Creates a new empty hidden directory {@code parent/PREFIX<random>}. Unlike {@link Files#createTempDirectory}
     * (always mode 700), it gets the permissions of any new directory (umask), so a directory renamed into place
     * from it is as readable as one made directly: a results directory shared by a team stays readable.
     */
    public static Path hiddenDirectory(Path parent, String prefix) throws IOException {
        if (!prefix.startsWith(".")) throw new IllegalArgumentException("a hidden name starts with '.', got " + prefix);
        for (int attempt = 0; ; attempt++) {
            Path p = parent.resolve(prefix + Long.toUnsignedString(RANDOM.nextLong(), 36));
            try {
                return Files.createDirectory(p);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                if (attempt > 100) throw e;
            }
        }
    }

    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

    /** Renames {@code from} onto {@code to} in one step (same file system), replacing a file or an empty directory. */
    public static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the file system cannot rename " + from + " onto " + to + " atomically", e);
        }
    }

    /** Deletes a file or a directory tree; failures are ignored (used for cleanup after another error). */
    public static void deleteQuietly(Path p) {
        if (p == null || !Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try {
            deleteTree(p);
        } catch (IOException ignored) {
            // best effort: leftovers are hidden ".name.*" temporaries
        }
    }

    /** Deletes a file or a directory tree (symbolic links are removed, never followed). */
    public static void deleteTree(Path p) throws IOException {
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
                Files.delete(f);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) throw e;
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
