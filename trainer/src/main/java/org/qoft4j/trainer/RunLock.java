package org.qoft4j.trainer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.function.Consumer;
import org.qoft4j.core.FileWrites;

/**
 * An exclusive lock on a run's output directory for the run's lifetime, so that two runs never write one directory
 * (one's adapter and metrics beside the other's checkpoints). The lock is an operating-system lock
 * ({@link FileChannel#tryLock()}, {@code fcntl} on Linux) on {@code OUT/.qoft4j.lock}, a file that names its owner:
 * {@code pid 1234 on host h since 2026-12-06T10:00:00Z}. The kernel releases the lock when its process dies, however
 * it dies, so a lock left by a killed run is stale by construction: the next run takes the lock, sees the owner
 * line still there (a run that ends empties it) and says whose lock it took over. The file itself stays: deleting
 * it would let two runs lock two different files of the same name.
 */
public final class RunLock implements AutoCloseable {
    public static final String FILE = ".qoft4j.lock";

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private RunLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Locks {@code outDir} (created if needed).
     *
     * @param note receives a line when a stale lock is taken over, or when the file system cannot lock at all
     * @throws ConfigException when another live run holds the lock, naming its pid and host
     */
    public static RunLock acquire(Path outDir, Consumer<String> note) {
        Path file = outDir.resolve(FILE);
        FileChannel ch = null;
        try {
            Files.createDirectories(outDir);
            ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // held by this JVM (another run in the same process)
            } catch (IOException e) {
                note.accept("warning: cannot lock " + outDir + " (" + e.getMessage() + "): nothing stops a second run from writing into it");
                ch.close();
                return new RunLock(file, null, null);
            }
            String owner = read(ch);
            if (lock == null) {
                ch.close();
                throw new ConfigException(outDir + " is in use by another run (" + (owner.isEmpty() ? "owner unknown" : owner) + ", lock file " + file
                        + "); wait for it to finish, or choose another --out");
            }
            if (!owner.isEmpty())
                note.accept("took over the lock of " + outDir + " from a run that ended without releasing it (" + owner + "; it is no longer running)");
            write(ch, "pid " + ProcessHandle.current().pid() + " on host " + host() + " since " + Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + "\n");
            return new RunLock(file, ch, lock);
        } catch (IOException e) {
            if (ch != null) try { ch.close(); } catch (IOException ignored) { /* the first error is the one to report */ }
            throw new UncheckedIOException("cannot lock " + outDir + ": " + e.getMessage(), e);
        }
    }

    /**
     * {@link #acquire} and then, with the directory ours, removes what interrupted writes left in it
     * ({@link RunLeftovers}), saying so.
     */
    public static RunLock claim(Path outDir, Consumer<String> note) {
        RunLock lock = acquire(outDir, note);
        try {
            java.util.List<Path> removed = RunLeftovers.clean(outDir);
            if (!removed.isEmpty())
                note.accept("removed " + removed.size() + " temporary file(s) or directories left by an interrupted write: "
                        + String.join(", ", removed.stream().map(p -> outDir.relativize(p).toString()).toList()));
            return lock;
        } catch (RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /**
     * No lock: for the ranks of a data-parallel run other than rank 0, which write nothing into the output directory
     * but their logs (rank 0 holds the lock for the whole group).
     */
    public static RunLock none() {
        return new RunLock(null, null, null);
    }

    /** The owner line of a lock file ({@code pid 1234 on host h since ...}), empty when none (or released). */
    public static String owner(Path outDir) {
        Path f = outDir.resolve(FILE);
        try {
            return Files.exists(f) ? Files.readString(f, StandardCharsets.UTF_8).strip() : "";
        } catch (IOException e) {
            return "";
        }
    }

    /** Empties the owner line (the run ended cleanly) and releases the lock. */
    @Override
    public void close() {
        if (channel == null) return;
        try {
            channel.truncate(0);
            lock.release();
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot release the lock " + file + ": " + e.getMessage(), e);
        }
    }

    private static String read(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) Math.min(ch.size(), 4096));
        while (b.hasRemaining() && ch.read(b, b.position()) > 0) { /* reads the whole (short) owner line */ }
        return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).strip();
    }

    private static void write(FileChannel ch, String owner) throws IOException {
        ch.truncate(0);
        FileWrites.writeFully(ch, ByteBuffer.wrap(owner.getBytes(StandardCharsets.UTF_8)), 0);
        ch.force(false);
    }

    /** The host name, without a network lookup when the kernel can say it (a resolver can hang where there is no network). */
    private static String host() {
        try {
            Path kernel = Path.of("/proc/sys/kernel/hostname");
            if (Files.isReadable(kernel)) return Files.readString(kernel).strip();
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            String h = System.getenv("HOSTNAME");
            return h != null ? h : "unknown";
        }
    }
}
