package org.qoft4j.core;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A write failed because the disk is full (or a quota or the file-size limit is reached): one clear line naming
 * what was being written and the space left, instead of the operating system's bare "No space left on device".
 */
public final class DiskFullException extends UncheckedIOException {
    /** The operating systems' own words (strerror of ENOSPC, EDQUOT and EFBIG) as Java's IOExceptions carry them. */
    private static final List<String> OS_MESSAGES = List.of("No space left on device", "Disk quota exceeded", "File too large");

    public DiskFullException(String message, Throwable cause) {
        super(message, cause instanceof IOException io ? io : new IOException(String.valueOf(cause), cause));
    }

    /** True when {@code e} or one of its causes is the operating system (or {@link FileWrites}' simulation) saying the disk is full. */
    public static boolean isDiskFull(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof DiskFullException) return true;
            String m = t.getMessage();
            if (m != null && OS_MESSAGES.stream().anyMatch(m::contains)) return true;
            if (t.getCause() == t) break;
        }
        return false;
    }

    /** {@code "no space left on device writing FILE (12 KiB free on /mnt)"}, for a failure {@link #isDiskFull} recognised. */
    public static DiskFullException writing(Path file, Throwable cause) {
        return new DiskFullException("no space left on device writing " + file + freeSpaceNote(file), cause);
    }

    /** {@code e} itself when it is one, else a {@link #writing} for {@code file} when the disk is full, else null. */
    public static DiskFullException ifDiskFull(Path file, Throwable e) {
        if (e instanceof DiskFullException d) return d;
        return isDiskFull(e) ? writing(file, e) : null;
    }

    /** {@code " (12 KiB free on /mnt)"} for the file system {@code file} is (or would be) on, or empty when it cannot say. */
    public static String freeSpaceNote(Path file) {
        try {
            Path p = file.toAbsolutePath();
            while (p != null && !Files.exists(p)) p = p.getParent();
            if (p == null) return "";
            var store = Files.getFileStore(p);
            return " (" + Human.bytes(store.getUsableSpace()) + " free on " + store + ")";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
