package org.qoft4j.core.safetensors;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A strictly validated, read-only safetensors file. The header is parsed and checked on {@link #open};
 * tensor data is memory-mapped in pieces of 16 MiB (so files and tensors over 2 GB work) and copied into
 * a new libtorch tensor, each piece unmapped right after its copy: reading a large model one tensor at a
 * time keeps resident memory near one tensor, not one tensor plus its mapped file pages.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Largest piece mapped at once. */
    static long mapChunk = 16L << 20;   // not final: tests shrink it to exercise the chunked copy

    private final Path path;
    private final FileChannel channel;
    private final long fileSize;
    private final SafetensorsHeader header;

    private SafetensorsFile(Path path, FileChannel channel, long fileSize, SafetensorsHeader header) {
        this.path = path;
        this.channel = channel;
        this.fileSize = fileSize;
        this.header = header;
    }

    /** Opens and validates {@code path}; every problem is a {@link SafetensorsException} naming the file (and tensor). */
    public static SafetensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new SafetensorsException(path, null, "cannot open: " + e, e);
        }
        try {
            long size = ch.size();
            byte[] first8 = readFully(path, ch, 0, (int) Math.min(8, size));
            long n = SafetensorsHeader.headerLength(path, first8, size);
            byte[] json = readFully(path, ch, 8, (int) n);
            SafetensorsHeader header = SafetensorsHeader.parseJson(path, json, size - 8 - n);
            return new SafetensorsFile(path, ch, size, header);
        } catch (IOException | RuntimeException e) {
            closeQuietly(ch);
            if (e instanceof SafetensorsException se) throw se;
            throw new SafetensorsException(path, null, "cannot read header: " + e, e);
        }
    }

    private static byte[] readFully(Path path, FileChannel ch, long pos, int n) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(n);
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos + buf.position());
            if (r < 0) throw new SafetensorsException(path, null, "file ended while reading bytes " + pos + ".." + (pos + n));
        }
        return buf.array();
    }

    public Path path() {
        return path;
    }

    public SafetensorsHeader header() {
        return header;
    }

    /** Tensor names in the order of the header. */
    public List<String> names() {
        return new ArrayList<>(header.tensors().keySet());
    }

    public boolean contains(String name) {
        return header.tensors().containsKey(name);
    }

    /** The header entry of {@code name}; a {@link SafetensorsException} when the file has no such tensor. */
    public TensorInfo info(String name) {
        TensorInfo t = header.tensors().get(name);
        if (t == null) throw new SafetensorsException(path, name, "no such tensor in this file (" + header.tensors().size() + " tensors)");
        return t;
    }

    /** {@code __metadata__}: string to string, empty when the file has none. */
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /** A new contiguous CPU tensor with a copy of {@code name}'s data, in its stored dtype. */
    public Tensor load(String name) {
        TensorInfo t = info(name);
        Tensor out = torch.empty(t.shape(), new TensorOptions(t.dtype().scalarType()), null);
        copyInto(t, new BytePointer(out.data_ptr()));
        return out;
    }

    /** {@link #load(String)} converted to {@code dtype}. */
    public Tensor load(String name, ScalarType dtype) {
        Tensor t = load(name);
        return t.scalar_type().intern() == dtype.intern() ? t : t.to(dtype);
    }

    /**
     * A read-only little-endian view of {@code name}'s bytes, memory-mapped (no copy). The mapping lives
     * until the buffer is garbage-collected; tensors of 2 GB or more must be read with {@link #load}.
     */
    public ByteBuffer bytes(String name) {
        TensorInfo t = info(name);
        if (t.byteLength() > Integer.MAX_VALUE)
            throw new SafetensorsException(path, name, t.byteLength() + " bytes do not fit one ByteBuffer; use load()");
        return map(name, header.dataStart() + t.begin(), t.byteLength()).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Copies {@code name}'s stored bytes into {@code target} at {@code targetPos} inside the kernel
     * (no tensor, no mapping: copying a tensor through costs no resident memory).
     */
    void transferTo(String name, FileChannel target, long targetPos) {
        TensorInfo t = info(name);
        long base = header.dataStart() + t.begin();
        try {
            if (channel.size() < fileSize)
                throw new SafetensorsException(path, name, "file shrank from " + fileSize + " to " + channel.size() + " bytes since it was opened");
            for (long done = 0; done < t.byteLength(); ) {
                long n = channel.transferTo(base + done, t.byteLength() - done, target.position(targetPos + done));
                if (n <= 0) throw new IOException("no progress after " + done + " of " + t.byteLength() + " bytes");
                done += n;
            }
        } catch (IOException e) {
            throw new SafetensorsException(path, name, "cannot copy the tensor's bytes: " + e, e);
        }
    }

    /** Copies the tensor's bytes to {@code dst}, mapping and unmapping at most {@link #mapChunk} at a time. */
    private void copyInto(TensorInfo t, BytePointer dst) {
        long base = header.dataStart() + t.begin();
        for (long done = 0; done < t.byteLength(); ) {
            long len = Math.min(mapChunk, t.byteLength() - done);
            MappedByteBuffer chunk = map(t.name(), base + done, len);
            try (BytePointer src = new BytePointer(chunk)) {
                Pointer.memcpy(dst.position(done), src, len);
            } finally {
                Unmapper.unmap(chunk);
            }
            done += len;
        }
        dst.position(0);
    }

    private MappedByteBuffer map(String name, long pos, long len) {
        try {
            // A file that shrank after open would fault on access (SIGBUS); refuse instead.
            if (channel.size() < fileSize)
                throw new SafetensorsException(path, name, "file shrank from " + fileSize + " to " + channel.size() + " bytes since it was opened");
            return channel.map(FileChannel.MapMode.READ_ONLY, pos, len);
        } catch (IOException e) {
            throw new SafetensorsException(path, name, "cannot map bytes " + pos + ".." + (pos + len) + ": " + e, e);
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing was written; closing a read-only channel has nothing to lose
        }
    }

    /** Releases a mapping now rather than at garbage collection (sun.misc.Unsafe.invokeCleaner; a no-op where unavailable). */
    static final class Unmapper {
        private static final Object UNSAFE;
        private static final Method INVOKE_CLEANER;

        static {
            Object unsafe = null;
            Method m = null;
            try {
                Class<?> c = Class.forName("sun.misc.Unsafe");
                java.lang.reflect.Field f = c.getDeclaredField("theUnsafe");
                f.setAccessible(true);
                unsafe = f.get(null);
                m = c.getMethod("invokeCleaner", ByteBuffer.class);
            } catch (ReflectiveOperationException | RuntimeException e) {
                unsafe = null;
                m = null;
            }
            UNSAFE = unsafe;
            INVOKE_CLEANER = m;
        }

        private Unmapper() {}

        /** Only for buffers this class created and never handed out: any later access would fault. */
        static void unmap(MappedByteBuffer b) {
            if (INVOKE_CLEANER == null) return;
            try {
                INVOKE_CLEANER.invoke(UNSAFE, b);
            } catch (ReflectiveOperationException | RuntimeException ignored) {
                // left to the garbage collector
            }
        }
    }
}
