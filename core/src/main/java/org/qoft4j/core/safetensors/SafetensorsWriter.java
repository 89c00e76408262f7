package org.qoft4j.core.safetensors;

import org.qoft4j.core.AtomicFiles;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.core.Tensors;

/**
 * Writes a safetensors file atomically: everything goes to a temporary file in the target's directory,
 * which replaces the target with one atomic rename on {@link #commit()}; on failure or {@link #close()}
 * without commit the temporary file is deleted, so a partial output never exists under the target name.
 *
 * <p>Two ways to use it: {@link #write(Path, Map, Map)} writes a map of tensors in one call, laid out
 * as the Python {@code safetensors} library lays them out (largest alignment first, then by name);
 * {@link #create(Path, Map, List)} declares the entries up front and then takes the data one tensor at
 * a time, in any order, so a converter never holds more than one tensor.
 *
 * <p>File layout: 8-byte little-endian header length N, N bytes of compact JSON ({@code __metadata__}
 * first, then the entries in data order) padded with spaces to a multiple of 8, then the data.
 */
public final class SafetensorsWriter implements AutoCloseable {
    /** A declared tensor: name, dtype and shape (the data comes later). */
    public record Entry(String name, DType dtype, long[] shape) {
        public Entry {
            shape = shape.clone();
            for (long d : shape) if (d < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public long byteLength() {
            return Math.multiplyExact(TensorInfo.numel(shape), dtype.size());
        }

        /** The entry describing {@code t} as it is stored (its dtype and shape). */
        public static Entry of(String name, Tensor t) {
            return new Entry(name, DType.of(t.scalar_type()), Tensors.shape(t));
        }
    }

    private static final JsonFactory JSON = new JsonFactory();

    private final Path target;
    private final Path temp;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> infos = new LinkedHashMap<>();
    private final Map<String, Boolean> written = new LinkedHashMap<>();
    private boolean finished;

    private SafetensorsWriter(Path target, Path temp, FileChannel channel, long dataStart, List<TensorInfo> infos) {
        this.target = target;
        this.temp = temp;
        this.channel = channel;
        this.dataStart = dataStart;
        for (TensorInfo t : infos) {
            this.infos.put(t.name(), t);
            this.written.put(t.name(), false);
        }
    }

    /** Writes {@code tensors} (any device, any layout) to {@code file} in the Python library's layout, atomically. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        List<Entry> entries = new ArrayList<>();
        tensors.forEach((name, t) -> entries.add(Entry.of(name, t)));
        try (SafetensorsWriter w = create(file, metadata, pythonOrder(entries))) {
            tensors.forEach(w::write);
            w.commit();
        }
    }

    /**
     * Starts a streaming write of the declared {@code entries}, laid out in the given order; the header is
     * written now and each tensor's data by {@link #write(String, Tensor)} later.
     */
    public static SafetensorsWriter create(Path file, Map<String, String> metadata, List<Entry> entries) {
        List<TensorInfo> infos = layout(file, entries);
        byte[] header = headerBytes(metadata, infos);
        Path temp = null;
        FileChannel ch = null;
        try {
            temp = AtomicFiles.tempBeside(file, ".tmp");
            ch = FileChannel.open(temp, StandardOpenOption.WRITE);
            TensorBytes.writeFully(ch, ByteBuffer.wrap(header), 0);
            long total = header.length + (infos.isEmpty() ? 0 : infos.get(infos.size() - 1).end());
            ch.truncate(total);
            return new SafetensorsWriter(file, temp, ch, header.length, infos);
        } catch (IOException | RuntimeException e) {
            if (ch != null) try { ch.close(); } catch (IOException ignored) { /* being discarded */ }
            AtomicFiles.deleteQuietly(temp);
            if (e instanceof SafetensorsException se) throw se;
            throw new SafetensorsException(file, null, "cannot start writing: " + e, e);
        }
    }

    /** The order in which the Python library writes tensors: dtype alignment descending, then name. */
    public static List<Entry> pythonOrder(List<Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparing(Entry::dtype, Comparator.reverseOrder()).thenComparing(Entry::name));
        return sorted;
    }

    private static List<TensorInfo> layout(Path file, List<Entry> entries) {
        List<TensorInfo> infos = new ArrayList<>();
        java.util.Set<String> names = new java.util.HashSet<>();
        long offset = 0;
        for (Entry e : entries) {
            if (e.name().equals(SafetensorsHeader.METADATA_KEY))
                throw new SafetensorsException(file, e.name(), "a tensor cannot be named " + SafetensorsHeader.METADATA_KEY);
            if (!names.add(e.name())) throw new SafetensorsException(file, e.name(), "declared twice");
            long end = offset + e.byteLength();
            infos.add(new TensorInfo(e.name(), e.dtype(), e.shape(), offset, end));
            offset = end;
        }
        return infos;
    }

    /** The 8-byte length plus the JSON header padded with spaces to a multiple of 8. */
    static byte[] headerBytes(Map<String, String> metadata, List<TensorInfo> infos) {
        ByteArrayOutputStream json = new ByteArrayOutputStream();
        try (JsonGenerator g = JSON.createGenerator(json)) {
            g.writeStartObject();
            if (metadata != null && !metadata.isEmpty()) {
                g.writeObjectFieldStart(SafetensorsHeader.METADATA_KEY);
                for (Map.Entry<String, String> m : metadata.entrySet()) g.writeStringField(m.getKey(), m.getValue());
                g.writeEndObject();
            }
            for (TensorInfo t : infos) {
                g.writeObjectFieldStart(t.name());
                g.writeStringField("dtype", t.dtype().name());
                g.writeArrayFieldStart("shape");
                for (long d : t.shape()) g.writeNumber(d);
                g.writeEndArray();
                g.writeArrayFieldStart("data_offsets");
                g.writeNumber(t.begin());
                g.writeNumber(t.end());
                g.writeEndArray();
                g.writeEndObject();
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int n = json.size();
        int padded = (n + 7) / 8 * 8;
        ByteBuffer out = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(json.toByteArray());
        while (out.hasRemaining()) out.put((byte) ' ');
        return out.array();
    }

    public Path target() {
        return target;
    }

    /** The declared entries with their offsets, in data order. */
    public List<TensorInfo> infos() {
        return new ArrayList<>(infos.values());
    }

    /** Writes a declared tensor's data; {@code t} must have the declared dtype and shape (any device, any strides). */
    public void write(String name, Tensor t) {
        TensorInfo info = declared(name);
        DType dt;
        try {
            dt = DType.of(t.scalar_type());
        } catch (IllegalArgumentException e) {
            throw fail(name, e.getMessage(), null);
        }
        if (dt != info.dtype() || !Arrays.equals(Tensors.shape(t), info.shape()))
            throw fail(name, "declared " + info.dtype() + " " + Arrays.toString(info.shape()) + " but given " + dt + " "
                    + Arrays.toString(Tensors.shape(t)), null);
        try {
            TensorBytes.write(t, channel, dataStart + info.begin(), info.byteLength());
        } catch (IOException e) {
            throw fail(name, "write failed: " + e, e);
        }
        written.put(name, true);
    }

    /** Writes a declared tensor's raw little-endian bytes (exactly its byte length, from position to limit). */
    public void write(String name, ByteBuffer data) {
        TensorInfo info = declared(name);
        if (data.remaining() != info.byteLength())
            throw fail(name, "declared " + info.byteLength() + " bytes but given " + data.remaining(), null);
        try {
            TensorBytes.writeFully(channel, data.duplicate(), dataStart + info.begin());
        } catch (IOException e) {
            throw fail(name, "write failed: " + e, e);
        }
        written.put(name, true);
    }

    /** Copies a declared tensor's bytes from {@code src} starting at {@code position} (no trip through memory). */
    public void transferFrom(String name, FileChannel src, long position) {
        TensorInfo info = declared(name);
        try {
            long pos = dataStart + info.begin();
            for (long done = 0; done < info.byteLength(); ) {
                long n = src.transferTo(position + done, info.byteLength() - done, channel.position(pos + done));
                if (n <= 0) throw new IOException("source ended after " + done + " of " + info.byteLength() + " bytes");
                done += n;
            }
        } catch (IOException e) {
            throw fail(name, "copy failed: " + e, e);
        }
        written.put(name, true);
    }

    private TensorInfo declared(String name) {
        if (finished) throw new SafetensorsException(target, name, "writer is already committed or closed");
        TensorInfo info = infos.get(name);
        if (info == null) throw fail(name, "was not declared", null);
        if (written.get(name)) throw fail(name, "written twice", null);
        return info;
    }

    /** Checks that every declared tensor was written, flushes, and renames the temporary file onto the target. */
    public void commit() {
        if (finished) throw new SafetensorsException(target, null, "writer is already committed or closed");
        List<String> missing = new ArrayList<>();
        written.forEach((k, v) -> { if (!v) missing.add(k); });
        if (!missing.isEmpty())
            throw fail(null, missing.size() + " declared tensor(s) never written: " + missing.subList(0, Math.min(5, missing.size())), null);
        try {
            channel.force(true);
            channel.close();
            AtomicFiles.move(temp, target);
            finished = true;
        } catch (IOException e) {
            throw fail(null, "cannot finish: " + e, e);
        }
    }

    /** Discards the output unless {@link #commit()} succeeded. */
    @Override
    public void close() {
        if (finished) return;
        finished = true;
        try {
            channel.close();
        } catch (IOException ignored) {
            // the file is deleted next
        }
        AtomicFiles.deleteQuietly(temp);
    }

    private SafetensorsException fail(String tensor, String problem, Throwable cause) {
        close();
        return new SafetensorsException(target, tensor, problem, cause);
    }

}
