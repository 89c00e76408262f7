package org.qoft4j.core;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;

/**
 * The one place where qoft4j's writers (safetensors files, atomic files, libtorch archives, {@code metrics.jsonl})
 * hand bytes to a file, so that a full disk is met the same way on every path — and so that a test can make the
 * disk "full" after a number of bytes ({@link #failAfter}) without a small file system, which needs root to mount.
 */
public final class FileWrites {
    /** The operating system's words for ENOSPC, which {@link DiskFullException#isDiskFull} recognises. */
    public static final String NO_SPACE = "No space left on device";

    private static final ThreadLocal<long[]> BUDGET = new ThreadLocal<>();

    private FileWrites() {}

    /** Writes all of {@code buf} at {@code pos}. */
    public static void writeFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        ByteBuffer part = allowed(buf);
        while (part.hasRemaining()) pos += ch.write(part, pos);
        finish(buf, part);
    }

    /** Writes all of {@code buf} at the channel's position. */
    public static void writeFully(WritableByteChannel ch, ByteBuffer buf) throws IOException {
        ByteBuffer part = allowed(buf);
        while (part.hasRemaining()) ch.write(part);
        finish(buf, part);
    }

    /**
     * Test seam: from now until the returned handle is closed, writes on this thread through this class fail after
     * {@code bytes} more bytes as on a full disk: the bytes that still fit are written, then an {@link IOException}
     * with the operating system's message. Only this thread is affected.
     */
    public static SimulatedDiskFull failAfter(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("byte budget must be >= 0, got " + bytes);
        long[] previous = BUDGET.get();
        BUDGET.set(new long[] {bytes});
        return () -> {
            if (previous == null) BUDGET.remove();
            else BUDGET.set(previous);
        };
    }

    /** Ends a {@link #failAfter} simulation. */
    @FunctionalInterface
    public interface SimulatedDiskFull extends AutoCloseable {
        @Override
        void close();
    }

    /** {@code buf} itself, or a view of the part of it the simulated disk still has room for. */
    private static ByteBuffer allowed(ByteBuffer buf) {
        long[] budget = BUDGET.get();
        if (budget == null || budget[0] >= buf.remaining()) {
            if (budget != null) budget[0] -= buf.remaining();
            return buf;
        }
        ByteBuffer part = buf.duplicate();
        part.limit(part.position() + (int) budget[0]);
        budget[0] = 0;
        return part;
    }

    private static void finish(ByteBuffer buf, ByteBuffer part) throws IOException {
        if (part == buf) return;
        buf.position(part.position());
        throw new IOException(NO_SPACE + " (simulated by FileWrites.failAfter)");
    }
}
