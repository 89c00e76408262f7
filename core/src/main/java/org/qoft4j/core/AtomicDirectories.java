package org.qoft4j.core;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.qoft4j.core.AtomicFiles;

/**
 * Directories that are either complete or absent (checkpoints, the exported adapter, a merged model): written
 * under a hidden temporary name in the same parent and renamed into place. Hidden names (a leading dot) are never
 * taken for results, so whatever a crash leaves behind is ignored. Single files: {@link AtomicFiles}.
 */
public final class AtomicDirectories {
    /** Writes the contents of a directory that does not exist yet. */
    @FunctionalInterface
    public interface DirectoryWriter {
        void writeInto(Path dir) throws IOException;
    }

    private AtomicDirectories() {}

    /**
     * Creates directory {@code target} with the contents {@code writer} puts into a temporary directory, or replaces
     * an existing one: the old directory is renamed aside first and deleted once the new one is in place. If the
     * writer fails, the temporary directory is deleted and {@code target} is left as it was; a full disk is a
     * {@link DiskFullException} naming {@code target}.
     */
    public static void write(Path target, DirectoryWriter writer) throws IOException {
        Path abs = target.toAbsolutePath().normalize();
        Files.createDirectories(abs.getParent());
        Path tmp = AtomicFiles.hiddenDirectory(abs.getParent(), "." + abs.getFileName() + ".tmp-"); // umask applies, unlike createTempDirectory
        try {
            writer.writeInto(tmp);
        } catch (IOException | RuntimeException | Error e) {
            AtomicFiles.deleteQuietly(tmp);
            if (!(e instanceof Error) && !(e instanceof DiskFullException) && DiskFullException.isDiskFull(e)) throw DiskFullException.writing(abs, e);
            throw e;
        }
        Path old = null;
        if (Files.exists(abs)) {
            old = hiddenSibling(abs, ".old-");
            AtomicFiles.move(abs, old);
        }
        AtomicFiles.move(tmp, abs);
        if (old != null) AtomicFiles.deleteTree(old);
    }

    /** Deletes a directory tree: renamed to a hidden name first, so a partly deleted tree never looks complete. */
    public static void delete(Path dir) throws IOException {
        Path abs = dir.toAbsolutePath().normalize();
        Path hidden = hiddenSibling(abs, ".del-");
        AtomicFiles.move(abs, hidden);
        AtomicFiles.deleteTree(hidden);
    }

    private static Path hiddenSibling(Path p, String tag) {
        return p.resolveSibling("." + p.getFileName() + tag + System.nanoTime());
    }
}
