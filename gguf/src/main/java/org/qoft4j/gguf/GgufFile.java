package org.qoft4j.gguf;

import java.io.EOFException;
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
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file read back (versions 2 and 3): its metadata, tensor infos and the position of the data section;
 * tensor data is read on request. Everything is checked against the file's size while reading, so a truncated or
 * corrupt file gives a {@link GgufFormatException} naming the file, the byte offset and what was wrong instead of an
 * out-of-memory error or garbage.
 */
public final class GgufFile {
    private final Path path;
    private final int version;
    private final Map<String, GgufValue> metadata;
    private final Map<String, GgufTensorInfo> tensors;
    private final int alignment;
    private final long dataOffset;
    private final long fileSize;

    private GgufFile(Path path, int version, Map<String, GgufValue> metadata, Map<String, GgufTensorInfo> tensors, int alignment, long dataOffset,
                     long fileSize) {
        this.path = path;
        this.version = version;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = Collections.unmodifiableMap(tensors);
        this.alignment = alignment;
        this.dataOffset = dataOffset;
        this.fileSize = fileSize;
    }

    public static GgufFile read(Path path) {
        if (!Files.isRegularFile(path)) throw new GgufFormatException(path + ": not found (expected a .gguf file)");
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return parse(path, new LittleEndianInput(ch));
        } catch (EOFException e) {
            throw new GgufFormatException(path + ": truncated: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": cannot read: " + e.getMessage(), e);
        } catch (GgufFormatException e) {
            throw e.getMessage().startsWith(path.toString()) ? e : new GgufFormatException(path + ": " + e.getMessage(), e);
        }
    }

    private static GgufFormatException bad(long at, String what) {
        return new GgufFormatException("byte " + at + ": " + what);
    }

    private static GgufFile parse(Path path, LittleEndianInput in) throws IOException {
        if (in.size() < 24) throw new GgufFormatException("only " + in.size() + " bytes: too short for a GGUF header (24 bytes)");
        long magic = in.u32();
        if (magic != (GgufWriter.MAGIC & 0xFFFF_FFFFL))
            throw bad(0, String.format("not a GGUF file (magic 0x%08x, expected \"GGUF\" = 0x%08x)", magic, GgufWriter.MAGIC));
        long version = in.u32();
        if (version != 2 && version != 3)
            throw bad(4, "GGUF version " + version + " is not supported (versions 2 and 3 are; version 1 used 32-bit counts)");
        long nTensors = in.u64(), nKv = in.u64();
        // every key/value takes at least 13 bytes (8-byte key length, 1-byte key, 4-byte type) and every tensor info 29
        if (nKv < 0 || nKv > in.remaining() / 13) throw bad(16, "metadata count " + Long.toUnsignedString(nKv) + " cannot fit in the file");
        if (nTensors < 0 || nTensors > in.remaining() / 29) throw bad(8, "tensor count " + Long.toUnsignedString(nTensors) + " cannot fit in the file");

        Map<String, GgufValue> md = new LinkedHashMap<>();
        for (long i = 0; i < nKv; i++) {
            long at = in.position();
            String key = in.string("metadata key #" + i);
            if (key.isEmpty()) throw bad(at, "metadata key #" + i + " is empty");
            GgufValue v = readValue(in, "metadata '" + key + "'", 0);
            if (md.put(key, v) != null) throw bad(at, "metadata key '" + key + "' appears twice");
        }
        int alignment = GgufWriter.DEFAULT_ALIGNMENT;
        GgufValue a = md.get("general.alignment");
        if (a != null) {
            if (a.type() != GgufValueType.UINT32 || a.asLong() == 0 || Long.bitCount(a.asLong()) != 1)
                throw new GgufFormatException("general.alignment must be a UINT32 power of two, got " + a.type() + " " + a.display(4));
            alignment = (int) a.asLong();
        }

        List<GgufTensorInfo> infos = new ArrayList<>();
        Map<String, GgufTensorInfo> byName = new LinkedHashMap<>();
        for (long i = 0; i < nTensors; i++) {
            long at = in.position();
            String name = in.string("tensor name #" + i);
            long nDims = in.u32();
            if (nDims < 1 || nDims > GgufWriter.MAX_DIMS) throw bad(at, "tensor '" + name + "' has " + nDims + " dimensions (1 to " + GgufWriter.MAX_DIMS + " allowed)");
            long[] ne = new long[(int) nDims];
            for (int d = 0; d < nDims; d++) {
                ne[d] = in.u64();
                if (ne[d] <= 0) throw bad(at, "tensor '" + name + "': dimension " + d + " is " + Long.toUnsignedString(ne[d]));
            }
            long typeId = in.u32();
            GgmlType type = typeId > Integer.MAX_VALUE ? null : GgmlType.of((int) typeId);
            if (type == null) throw bad(at, "tensor '" + name + "': unknown ggml type id " + typeId);
            long offset = in.u64();
            if (ne[0] % type.blockSize() != 0)
                throw bad(at, "tensor '" + name + "': rows of " + ne[0] + " values are not a multiple of " + type.ggmlName() + "'s block size " + type.blockSize());
            GgufTensorInfo t;
            try {
                t = new GgufTensorInfo(name, ne, type, offset);
                t.bytes();
            } catch (ArithmeticException e) {
                throw bad(at, "tensor '" + name + "': size " + Arrays.toString(ne) + " overflows");
            }
            if (offset < 0 || offset % alignment != 0) throw bad(at, "tensor '" + name + "': data offset " + Long.toUnsignedString(offset) + " is not a multiple of the alignment " + alignment);
            if (byName.put(name, t) != null) throw bad(at, "tensor '" + name + "' appears twice");
            infos.add(t);
        }
        long dataOffset = (in.position() + alignment - 1) / alignment * alignment;
        for (GgufTensorInfo t : infos) {
            long end = dataOffset + t.offset() + t.bytes();
            if (t.offset() > in.size() || end > in.size())
                throw new GgufFormatException("tensor '" + t.name() + "' (" + t.bytes() + " bytes at data offset " + t.offset() + ") extends past the end of the file ("
                        + in.size() + " bytes): truncated?");
        }
        return new GgufFile(path, (int) version, md, byName, alignment, dataOffset, in.size());
    }

    private static GgufValue readValue(LittleEndianInput in, String what, int depth) throws IOException {
        long at = in.position();
        long typeId = in.u32();
        GgufValueType t = typeId > 12 ? null : GgufValueType.of((int) typeId);
        if (t == null) throw bad(at, what + ": unknown value type " + typeId);
        if (t != GgufValueType.ARRAY) return new GgufValue(t, readScalar(in, t, what), null);
        return readArray(in, what, depth);
    }

    /** After an ARRAY type id (or as an element of an array of arrays): element type, count, elements. */
    private static GgufValue readArray(LittleEndianInput in, String what, int depth) throws IOException {
        long at = in.position();
        if (depth > 8) throw bad(at, what + ": arrays nested more than 8 deep");
        long elemId = in.u32();
        GgufValueType et = elemId > 12 ? null : GgufValueType.of((int) elemId);
        if (et == null) throw bad(at, what + ": unknown array element type " + elemId);
        long n = in.u64();
        long minBytes = et.size() > 0 ? et.size() : et == GgufValueType.STRING ? 8 : 12;
        if (n < 0 || n > in.remaining() / minBytes) throw bad(at, what + ": array of " + Long.toUnsignedString(n) + " " + et + " elements cannot fit in the file");
        List<Object> l = new ArrayList<>((int) n);
        for (long i = 0; i < n; i++) l.add(et == GgufValueType.ARRAY ? readArray(in, what + "[" + i + "]", depth + 1) : readScalar(in, et, what));
        return GgufValue.array(et, l);
    }

    private static Object readScalar(LittleEndianInput in, GgufValueType t, String what) throws IOException {
        return switch (t) {
            case UINT8 -> (long) in.u8();
            case INT8 -> (long) (byte) in.u8();
            case UINT16 -> (long) in.u16();
            case INT16 -> (long) (short) in.u16();
            case UINT32 -> in.u32();
            case INT32 -> (long) (int) in.u32();
            case UINT64, INT64 -> in.u64();
            case FLOAT32 -> in.f32();
            case FLOAT64 -> in.f64();
            case BOOL -> {
                long at = in.position();
                int b = in.u8();
                if (b > 1) throw bad(at, what + ": bool byte is " + b + " (0 or 1 expected)");
                yield b == 1;
            }
            case STRING -> in.string(what);
            case ARRAY -> throw new IllegalStateException("arrays are read by readArray");
        };
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public int alignment() {
        return alignment;
    }

    /** File offset of the data section (tensor offsets are relative to it). */
    public long dataOffset() {
        return dataOffset;
    }

    public long fileSize() {
        return fileSize;
    }

    public Map<String, GgufValue> metadata() {
        return metadata;
    }

    /** The value of {@code key}; a clear error when it is absent. */
    public GgufValue get(String key) {
        GgufValue v = metadata.get(key);
        if (v == null) throw new GgufFormatException(path + ": no metadata key '" + key + "'");
        return v;
    }

    /** Tensors in file order, by name. */
    public Map<String, GgufTensorInfo> tensors() {
        return tensors;
    }

    public GgufTensorInfo tensor(String name) {
        GgufTensorInfo t = tensors.get(name);
        if (t == null) throw new GgufFormatException(path + ": no tensor '" + name + "'");
        return t;
    }

    /** The raw stored bytes of one tensor (little endian, ggml's block layout). */
    public ByteBuffer tensorData(String name) {
        GgufTensorInfo t = tensor(name);
        long n = t.bytes();
        if (n > Integer.MAX_VALUE) throw new GgufFormatException(path + ": tensor '" + name + "' has " + n + " bytes, too many to read at once");
        ByteBuffer b = ByteBuffer.allocate((int) n).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long pos = dataOffset + t.offset();
            while (b.hasRemaining()) {
                int r = ch.read(b, pos + b.position());
                if (r < 0) throw new GgufFormatException(path + ": tensor '" + name + "' is truncated");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": cannot read tensor '" + name + "': " + e.getMessage(), e);
        }
        return b.flip();
    }

    /** One tensor's values as float32, row-major in PyTorch order ({@link GgufTensorInfo#torchShape()}), decoded from its type. */
    public float[] floats(String name) {
        GgufTensorInfo t = tensor(name);
        long n = t.elements();
        if (n > Integer.MAX_VALUE) throw new GgufFormatException(path + ": tensor '" + name + "' has " + n + " values, too many to decode at once");
        float[] out = new float[(int) n];
        GgmlCodec.decode(t.type(), tensorData(name), out, 0, (int) n);
        return out;
    }
}
