package org.qoft4j.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GGUF writer and reader: every value type, the byte layout, alignment, atomic writes, and corrupt files. */
class GgufFileTest {
    @TempDir
    Path tmp;

    private static GgufWriter allTypes() {
        GgufWriter w = new GgufWriter();
        w.put("general.architecture", GgufValue.string("llama"));
        w.put("t.u8", GgufValue.uint8(255));
        w.put("t.i8", GgufValue.int8(-128));
        w.put("t.u16", GgufValue.uint16(65535));
        w.put("t.i16", GgufValue.int16(-32768));
        w.put("t.u32", GgufValue.uint32(4_294_967_295L));
        w.put("t.i32", GgufValue.int32(Integer.MIN_VALUE));
        w.put("t.f32", GgufValue.float32(-1.5f));
        w.put("t.bool", GgufValue.bool(true));
        w.put("t.string", GgufValue.string("héllo \u2581 <|im_end|>"));
        w.put("t.u64", GgufValue.uint64(-1L)); // 2^64 - 1
        w.put("t.i64", GgufValue.int64(Long.MIN_VALUE));
        w.put("t.f64", GgufValue.float64(Math.PI));
        w.put("t.strings", GgufValue.strings(List.of("a", "", "Ġb c")));
        w.put("t.floats", GgufValue.float32s(new float[] {1f, -2f, Float.NaN}));
        w.put("t.ints", GgufValue.int32s(new int[] {1, 3, 6}));
        w.put("t.nested", GgufValue.array(GgufValueType.ARRAY, List.of(GgufValue.int32s(new int[] {7}), GgufValue.strings(List.of("x", "y")))));
        return w;
    }

    @Test
    void everyValueTypeAndTensorRoundTrips() {
        GgufWriter w = allTypes();
        float[] a = new float[3 * 64];
        for (int i = 0; i < a.length; i++) a[i] = i * 0.25f - 7;
        byte[] aBytes = GgmlCodec.encode(GgmlType.F32, a, 0, a.length);
        byte[] qBytes = GgmlCodec.encode(GgmlType.Q8_0, a, 0, a.length);
        w.addTensor("a", new long[] {64, 3}, GgmlType.F32, out -> out.write(aBytes));
        w.addTensor("blk.0.q", new long[] {64, 3}, GgmlType.Q8_0, out -> out.write(qBytes));
        w.addTensor("one", new long[] {5}, GgmlType.F16, out -> out.write(GgmlCodec.encode(GgmlType.F16, new float[] {1, 2, 3, 4, 5}, 0, 5)));
        Path f = tmp.resolve("all.gguf");
        long size = w.write(f);
        GgufFile g = GgufFile.read(f);
        assertEquals(size, g.fileSize());
        assertEquals(3, g.version());
        assertEquals(32, g.alignment());
        assertEquals(w.metadata(), g.metadata());
        assertEquals(-1L, g.get("t.u64").asLong());
        assertEquals("18446744073709551615", g.get("t.u64").display(4));
        assertTrue(Float.isNaN((Float) g.get("t.floats").asList().get(2)));
        assertEquals(List.of("a", "blk.0.q", "one"), List.copyOf(g.tensors().keySet()));
        GgufTensorInfo q = g.tensor("blk.0.q");
        assertArrayEquals(new long[] {3, 64}, q.torchShape());
        assertEquals(0, g.dataOffset() % 32);
        for (GgufTensorInfo t : g.tensors().values()) assertEquals(0, t.offset() % 32, t.name());
        assertArrayEquals(a, g.floats("a"));
        assertArrayEquals(qBytes, g.tensorData("blk.0.q").array());
        float[] back = g.floats("blk.0.q");
        for (int i = 0; i < a.length; i++) assertEquals(a[i], back[i], 40.75 / 127 / 2 * 1.01, "q8_0 value " + i); // half a step of the largest block
        assertArrayEquals(new float[] {1, 2, 3, 4, 5}, g.floats("one"));
    }

    /** The header and the first key/value, byte by byte (GGUF v3, little endian). */
    @Test
    void headerBytesFollowTheSpec() throws IOException {
        GgufWriter w = new GgufWriter();
        w.addTensor("x", new long[] {32}, GgmlType.F32, out -> out.write(new byte[128]));
        Path f = tmp.resolve("h.gguf");
        w.write(f);
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals('G', b.get(0));
        assertEquals('G', b.get(1));
        assertEquals('U', b.get(2));
        assertEquals('F', b.get(3));
        assertEquals(3, b.getInt(4));
        assertEquals(1L, b.getLong(8));  // tensors
        assertEquals(1L, b.getLong(16)); // general.alignment only
        assertEquals(17L, b.getLong(24)); // "general.alignment"
        assertEquals("general.alignment", new String(Arrays.copyOfRange(b.array(), 32, 49)));
        assertEquals(GgufValueType.UINT32.id(), b.getInt(49));
        assertEquals(32, b.getInt(53));
        // tensor info: name, n_dims, ne, type, offset
        assertEquals(1L, b.getLong(57));
        assertEquals('x', b.get(65));
        assertEquals(1, b.getInt(66));
        assertEquals(32L, b.getLong(70));
        assertEquals(GgmlType.F32.id(), b.getInt(78));
        assertEquals(0L, b.getLong(82));
        assertEquals(96 + 128, b.capacity()); // infos end at 90, padded to 96, then the data
    }

    @Test
    void aFailingTensorLeavesNoFile() throws IOException {
        Path f = tmp.resolve("x.gguf");
        GgufWriter w = allTypes();
        w.addTensor("ok", new long[] {32}, GgmlType.F32, out -> out.write(new byte[128]));
        w.addTensor("bad", new long[] {32}, GgmlType.F32, out -> {
            throw new IllegalStateException("tensor source failed");
        });
        assertThrows(IllegalStateException.class, () -> w.write(f));
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(), s.toList(), "no file and no temporary left behind");
        }
        GgufWriter shortData = new GgufWriter();
        shortData.addTensor("short", new long[] {32}, GgmlType.F32, out -> out.write(new byte[100]));
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> shortData.write(f));
        assertTrue(e.getMessage().contains("short") && e.getMessage().contains("100 bytes, expected 128"), e.getMessage());
        assertFalse(Files.exists(f));
    }

    @Test
    void writerRejectsWhatGgmlCannotLoad() {
        GgufWriter w = new GgufWriter();
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("q", new long[] {48, 2}, GgmlType.Q8_0, out -> {}), "48 is not a multiple of 32");
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("x".repeat(64), new long[] {1}, GgmlType.F32, out -> {}));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("d", new long[] {1, 1, 1, 1, 1}, GgmlType.F32, out -> {}));
        w.addTensor("t", new long[] {1}, GgmlType.F32, out -> {});
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("t", new long[] {1}, GgmlType.F32, out -> {}));
        assertThrows(IllegalArgumentException.class, () -> w.put("general.alignment", GgufValue.uint32(64)));
        assertThrows(IllegalArgumentException.class, () -> GgufValue.uint8(256));
        assertThrows(IllegalArgumentException.class, () -> GgufValue.array(GgufValueType.INT32, List.of("not an int")));
    }

    @Test
    void corruptFilesGiveClearErrors() throws IOException {
        GgufWriter w = allTypes();
        w.addTensor("a", new long[] {64, 4}, GgmlType.F32, out -> out.write(new byte[1024]));
        Path good = tmp.resolve("good.gguf");
        w.write(good);
        byte[] bytes = Files.readAllBytes(good);

        Path notGguf = tmp.resolve("n.gguf");
        Files.write(notGguf, "PK\u0003\u0004 definitely a zip file, not gguf".getBytes());
        assertMessage(notGguf, "not a GGUF file");

        Path truncated = tmp.resolve("t.gguf");
        Files.write(truncated, Arrays.copyOf(bytes, bytes.length - 10));
        assertMessage(truncated, "extends past the end of the file");

        Path cutHeader = tmp.resolve("c.gguf");
        Files.write(cutHeader, Arrays.copyOf(bytes, 120));
        assertMessage(cutHeader, "c.gguf");

        byte[] hugeCount = bytes.clone();
        ByteBuffer.wrap(hugeCount).order(ByteOrder.LITTLE_ENDIAN).putLong(16, 1L << 40);
        Path huge = tmp.resolve("huge.gguf");
        Files.write(huge, hugeCount);
        assertMessage(huge, "cannot fit in the file");

        byte[] v1 = bytes.clone();
        ByteBuffer.wrap(v1).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 1);
        Path old = tmp.resolve("v1.gguf");
        Files.write(old, v1);
        assertMessage(old, "version 1 is not supported");

        Random r = new Random(1);
        for (int i = 0; i < 200; i++) { // random corruption: an error or a file that reads, never anything else
            byte[] x = bytes.clone();
            x[24 + r.nextInt(400)] = (byte) r.nextInt(256);
            Path p = tmp.resolve("r" + i + ".gguf");
            Files.write(p, x);
            try {
                GgufFile.read(p);
            } catch (GgufFormatException expected) {
                assertTrue(expected.getMessage().startsWith(p.toString()), expected.getMessage());
            }
        }
    }

    private static void assertMessage(Path p, String part) {
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> GgufFile.read(p));
        assertTrue(e.getMessage().contains(part) && e.getMessage().startsWith(p.toString()), e.getMessage());
    }
}
