package org.qoft4j.gguf;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.qoft4j.core.AtomicFiles;

/**
 * Writes a GGUF v3 file (docs/GGUF.md): little endian; header ({@code "GGUF"}, version 3, tensor count, metadata
 * count), the metadata key/values, the tensor infos, zero padding to {@code general.alignment}, then each tensor's
 * data at an offset that is a multiple of the alignment. Tensors are produced one at a time while the file is
 * written (their sizes follow from shape and type, so every offset is known before any data), so a model never
 * needs to be in memory whole. The file is written under a temporary name beside the target and renamed onto it
 * only when complete: any error leaves no file (and no partial file) under the target name.
 */
public final class GgufWriter {
    public static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
    public static final int VERSION = 3;
    public static final int DEFAULT_ALIGNMENT = 32;
    /** ggml's GGML_MAX_NAME is 64 bytes including the terminating zero. */
    public static final int MAX_NAME_BYTES = 63;
    public static final int MAX_DIMS = 4;

    /** Produces one tensor's data: exactly {@link GgmlType#bytes} bytes, written to {@code out}. */
    @FunctionalInterface
    public interface TensorData {
        void writeTo(OutputStream out) throws IOException;
    }

    private record Pending(GgufTensorInfo info, TensorData data) {}

    private final int alignment;
    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<Pending> tensors = new ArrayList<>();
    private final Set<String> names = new LinkedHashSet<>();
    private long dataBytes;

    public GgufWriter() {
        this(DEFAULT_ALIGNMENT);
    }

    /** @param alignment of the data section and of every tensor's data; a power of two (stored as {@code general.alignment}) */
    public GgufWriter(int alignment) {
        if (alignment <= 0 || Integer.bitCount(alignment) != 1) throw new IllegalArgumentException("alignment must be a power of two, got " + alignment);
        this.alignment = alignment;
        metadata.put("general.alignment", GgufValue.uint32(alignment));
    }

    public int alignment() {
        return alignment;
    }

    /** Sets a metadata key (replacing an earlier value; {@code general.alignment} is the writer's own). */
    public GgufWriter put(String key, GgufValue value) {
        if (key == null || key.isEmpty()) throw new IllegalArgumentException("a metadata key must not be empty");
        if (key.equals("general.alignment") && !(value.type() == GgufValueType.UINT32 && value.asLong() == alignment))
            throw new IllegalArgumentException("general.alignment is set by the writer (" + alignment + "); construct it with the alignment wanted");
        metadata.put(key, value);
        return this;
    }

    public Map<String, GgufValue> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /**
     * Adds a tensor, written in the order added.
     *
     * @param ne dimensions in ggml order ({@code ne[0]} = values per row), 1 to 4 of them, each positive; ne[0] a
     *           multiple of the type's block size
     */
    public GgufTensorInfo addTensor(String name, long[] ne, GgmlType type, TensorData data) {
        byte[] nb = name.getBytes(StandardCharsets.UTF_8);
        if (nb.length == 0 || nb.length > MAX_NAME_BYTES)
            throw new IllegalArgumentException("tensor name '" + name + "' must be 1 to " + MAX_NAME_BYTES + " bytes (ggml's limit)");
        if (!names.add(name)) throw new IllegalArgumentException("tensor '" + name + "' is added twice");
        if (ne.length < 1 || ne.length > MAX_DIMS) throw new IllegalArgumentException("tensor '" + name + "': " + ne.length + " dimensions, ggml allows 1 to " + MAX_DIMS);
        for (long d : ne) if (d <= 0) throw new IllegalArgumentException("tensor '" + name + "': dimensions must be positive, got " + Arrays.toString(ne));
        if (ne[0] % type.blockSize() != 0)
            throw new IllegalArgumentException("tensor '" + name + "': rows of " + ne[0] + " values cannot be stored as " + type.ggmlName()
                    + " (needs a multiple of " + type.blockSize() + ")");
        GgufTensorInfo info = new GgufTensorInfo(name, ne, type, dataBytes);
        long bytes = info.bytes();
        dataBytes = Math.addExact(dataBytes, bytes + padding(bytes));
        tensors.add(new Pending(info, data));
        return info;
    }

    public List<GgufTensorInfo> tensors() {
        return tensors.stream().map(Pending::info).toList();
    }

    private long padding(long n) {
        return (alignment - n % alignment) % alignment;
    }

    /**
     * Writes the file atomically: to a hidden temporary beside {@code target}, forced to disk, renamed onto
     * {@code target} (replacing a file there). Returns the file's size in bytes.
     *
     * @throws GgufFormatException when a tensor's data has the wrong length; the cause of any other failure is kept
     */
    public long write(Path target) {
        Path temp = null;
        try {
            Path parent = target.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            temp = AtomicFiles.tempBeside(target, ".tmp");
            long size;
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                LittleEndianOutput out = new LittleEndianOutput(new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 20));
                writeTo(out);
                out.flush();
                size = out.position();
                ch.force(true);
            }
            AtomicFiles.move(temp, target);
            return size;
        } catch (IOException e) {
            AtomicFiles.deleteQuietly(temp);
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            AtomicFiles.deleteQuietly(temp);
            throw e;
        }
    }

    private void writeTo(LittleEndianOutput out) throws IOException {
        out.u32(MAGIC);
        out.u32(VERSION);
        out.u64(tensors.size());
        out.u64(metadata.size());
        for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
            out.string(e.getKey());
            out.u32(e.getValue().type().id());
            writeValue(out, e.getValue());
        }
        for (Pending p : tensors) {
            GgufTensorInfo t = p.info();
            out.string(t.name());
            long[] ne = t.ne();
            out.u32(ne.length);
            for (long d : ne) out.u64(d);
            out.u32(t.type().id());
            out.u64(t.offset());
        }
        out.padTo(alignment);
        long dataStart = out.position();
        for (Pending p : tensors) {
            GgufTensorInfo t = p.info();
            long start = out.position();
            if (start - dataStart != t.offset()) throw new IllegalStateException("tensor " + t.name() + " at " + (start - dataStart) + ", expected " + t.offset());
            // the producer must not close the file's stream
            p.data().writeTo(new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    out.write(b);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                }
            });
            long written = out.position() - start;
            if (written != t.bytes())
                throw new GgufFormatException("tensor " + t.name() + " (" + t.type().ggmlName() + " " + Arrays.toString(t.ne()) + "): its data is "
                        + written + " bytes, expected " + t.bytes());
            out.padTo(alignment);
        }
    }

    private static void writeValue(LittleEndianOutput out, GgufValue v) throws IOException {
        if (v.type() == GgufValueType.ARRAY) {
            List<?> l = v.asList();
            out.u32(v.elementType().id());
            out.u64(l.size());
            for (Object o : l) writeScalar(out, v.elementType(), o);
        } else {
            writeScalar(out, v.type(), v.value());
        }
    }

    private static void writeScalar(LittleEndianOutput out, GgufValueType t, Object o) throws IOException {
        switch (t) {
            case UINT8, INT8 -> out.u8((Long) o);
            case UINT16, INT16 -> out.u16((Long) o);
            case UINT32, INT32 -> out.u32((Long) o);
            case UINT64, INT64 -> out.u64((Long) o);
            case FLOAT32 -> out.f32((Float) o);
            case FLOAT64 -> out.f64((Double) o);
            case BOOL -> out.u8((Boolean) o ? 1 : 0);
            case STRING -> out.string((String) o);
            case ARRAY -> writeValue(out, (GgufValue) o); // an element array: its element type, count and elements
        }
    }
}
