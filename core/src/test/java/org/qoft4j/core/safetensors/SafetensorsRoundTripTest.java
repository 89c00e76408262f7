package org.qoft4j.core.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.core.Tensors;

class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    private static Tensor random(ScalarType dt, long... shape) {
        Tensor r = torch.randn(shape, new TensorOptions(ScalarType.Float)).mul(new org.bytedeco.pytorch.Scalar(100.0));
        return dt == ScalarType.Bool ? r.gt(new org.bytedeco.pytorch.Scalar(0.0)) : r.to(dt);
    }

    private static byte[] rawBytes(Tensor t) {
        return t.numel() == 0 ? new byte[0] : Tensors.toBytes(t.contiguous().reshape(-1).view(ScalarType.Byte));
    }

    @Test
    void everyDtypeRoundTripsBitExactly() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(1);
            Map<String, Tensor> in = new LinkedHashMap<>();
            for (DType d : DType.values()) in.put("t." + d, random(d.scalarType(), 3, 5));
            in.put("scalar", random(ScalarType.Float));
            in.put("empty", random(ScalarType.Half, 0, 7));
            in.put("transposed", random(ScalarType.Float, 4, 6).t());
            Path f = dir.resolve("all.safetensors");
            SafetensorsWriter.write(f, in, Map.of("format", "pt"));
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                assertEquals(Map.of("format", "pt"), sf.metadata());
                assertEquals(in.keySet(), new java.util.HashSet<>(sf.names()));
                for (Map.Entry<String, Tensor> e : in.entrySet()) {
                    Tensor back = sf.load(e.getKey());
                    assertEquals(e.getValue().scalar_type().intern(), back.scalar_type().intern(), e.getKey());
                    assertArrayEquals(Tensors.shape(e.getValue()), Tensors.shape(back), e.getKey());
                    assertArrayEquals(rawBytes(e.getValue()), rawBytes(back), e.getKey());
                    ByteBuffer mapped = sf.bytes(e.getKey());
                    byte[] viaMap = new byte[mapped.remaining()];
                    mapped.get(viaMap);
                    assertArrayEquals(rawBytes(e.getValue()), viaMap, e.getKey());
                }
                assertEquals(DType.BF16, sf.info("t.BF16").dtype());
                assertArrayEquals(new long[] {3, 5}, sf.info("t.F32").shape());
            }
        }
    }

    @Test
    void loadConvertsToTheAskedDtype() {
        try (PointerScope scope = new PointerScope()) {
            Tensor w = Tensors.of(new float[] {1.5f, -2.25f, 3f, 0.1f}, 2, 2).to(ScalarType.BFloat16);
            Path f = dir.resolve("c.safetensors");
            SafetensorsWriter.write(f, Map.of("w", w), null);
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                Tensor back = sf.load("w", ScalarType.Float);
                assertEquals(ScalarType.Float, back.scalar_type().intern());
                assertArrayEquals(Tensors.toFloats(w), Tensors.toFloats(back));
                assertTrue(sf.metadata().isEmpty());
            }
        }
    }

    /** The exact bytes the Rust/Python safetensors library writes for the same input (its own unit tests). */
    @Test
    void headerBytesMatchThePythonLibrary() throws IOException {
        try (PointerScope scope = new PointerScope()) {
            Path f = dir.resolve("attn.safetensors");
            SafetensorsWriter.write(f, Map.of("attn.0", Tensors.of(new float[] {0, 1, 2, 3, 4, 5}, 1, 2, 3)), null);
            byte[] b = Files.readAllBytes(f);
            String json = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
            assertEquals(64, ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong());
            assertEquals(json, new String(b, 8, json.length(), StandardCharsets.UTF_8));
            assertEquals(8 + 64 + 24, b.length);
            assertEquals(0x3f800000, ByteBuffer.wrap(b, 8 + 64 + 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt());   // 1.0f

            Path g = dir.resolve("meta.safetensors");
            SafetensorsWriter.write(g, Map.of(), Map.of("framework", "pt"));
            assertEquals("(\0\0\0\0\0\0\0{\"__metadata__\":{\"framework\":\"pt\"}}     ", Files.readString(g, StandardCharsets.ISO_8859_1));
            Path h = dir.resolve("empty.safetensors");
            SafetensorsWriter.write(h, Map.of(), null);
            assertEquals("\b\0\0\0\0\0\0\0{}      ", Files.readString(h, StandardCharsets.ISO_8859_1));
        }
    }

    @Test
    void oneCallWriterUsesThePythonOrder() {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> in = new LinkedHashMap<>();
            in.put("b.u8", random(ScalarType.Byte, 3));
            in.put("a.u8", random(ScalarType.Byte, 5));
            in.put("z.f32", random(ScalarType.Float, 2));
            in.put("m.i64", random(ScalarType.Long, 1));
            in.put("c.bf16", random(ScalarType.BFloat16, 3));
            Path f = dir.resolve("o.safetensors");
            SafetensorsWriter.write(f, in, null);
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                assertEquals(List.of("m.i64", "z.f32", "c.bf16", "a.u8", "b.u8"), sf.names());
                for (String n : sf.names()) assertEquals(0, sf.info(n).begin() % sf.info(n).dtype().size(), n);
            }
        }
    }

    @Test
    void streamingWriterTakesTensorsOneAtATimeInAnyOrder() throws IOException {
        try (PointerScope scope = new PointerScope()) {
            Tensor a = random(ScalarType.BFloat16, 4, 3), b = random(ScalarType.Int, 7), c = random(ScalarType.Byte, 2, 2);
            Path f = dir.resolve("s.safetensors");
            List<SafetensorsWriter.Entry> entries = List.of(SafetensorsWriter.Entry.of("a", a), SafetensorsWriter.Entry.of("b", b),
                    new SafetensorsWriter.Entry("c", DType.U8, new long[] {2, 2}));
            try (SafetensorsWriter w = SafetensorsWriter.create(f, Map.of("format", "pt"), entries)) {
                w.write("c", c);
                w.write("a", a);
                assertFalse(Files.exists(f), "nothing under the target name before commit");
                w.write("b", ByteBuffer.wrap(rawBytes(b)));
                w.commit();
            }
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                assertEquals(List.of("a", "b", "c"), sf.names());   // declared order is the layout
                assertArrayEquals(rawBytes(a), rawBytes(sf.load("a")));
                assertArrayEquals(rawBytes(b), rawBytes(sf.load("b")));
                assertArrayEquals(rawBytes(c), rawBytes(sf.load("c")));
            }
            assertEquals(List.of(f), listDir());
        }
    }

    @Test
    void failedOrAbandonedWritesLeaveNoPartialOutput() throws IOException {
        try (PointerScope scope = new PointerScope()) {
            Path f = dir.resolve("x.safetensors");
            Files.writeString(f, "previous content");
            Tensor a = random(ScalarType.Float, 2, 2);
            List<SafetensorsWriter.Entry> entries = List.of(SafetensorsWriter.Entry.of("a", a), SafetensorsWriter.Entry.of("b", a));

            // abandoned: closed without commit
            try (SafetensorsWriter w = SafetensorsWriter.create(f, null, entries)) {
                w.write("a", a);
            }
            // wrong dtype
            SafetensorsException e1 = assertThrows(SafetensorsException.class, () -> {
                try (SafetensorsWriter w = SafetensorsWriter.create(f, null, entries)) {
                    w.write("a", a.to(ScalarType.Half));
                }
            });
            assertTrue(e1.getMessage().contains("declared F32 [2, 2] but given F16 [2, 2]"), e1.getMessage());
            assertEquals("a", e1.tensor());
            // commit with a tensor missing
            SafetensorsException e2 = assertThrows(SafetensorsException.class, () -> {
                try (SafetensorsWriter w = SafetensorsWriter.create(f, null, entries)) {
                    w.write("a", a);
                    w.commit();
                }
            });
            assertTrue(e2.getMessage().contains("never written: [b]"), e2.getMessage());
            // undeclared and duplicate names
            assertThrows(SafetensorsException.class, () -> {
                try (SafetensorsWriter w = SafetensorsWriter.create(f, null, entries)) {
                    w.write("zzz", a);
                }
            });
            assertThrows(SafetensorsException.class, () -> SafetensorsWriter.create(f, null, List.of(entries.get(0), entries.get(0))));

            assertEquals("previous content", Files.readString(f));
            assertEquals(List.of(f), listDir(), "temporary files are removed");
        }
    }

    @Test
    void spoolWritesPythonLayoutFromTensorsOfUnknownSize() throws IOException {
        try (PointerScope scope = new PointerScope()) {
            Path f = dir.resolve("sp.safetensors");
            Map<String, Tensor> in = new LinkedHashMap<>();
            in.put("q", random(ScalarType.Byte, 9));
            in.put("p", random(ScalarType.Float, 3, 3));
            in.put("s", Tensors.ofBytes("{\"a\": 1}".getBytes(StandardCharsets.UTF_8), 8));
            try (SafetensorsSpool spool = SafetensorsSpool.create(f, Map.of("format", "pt"))) {
                in.forEach(spool::add);
                assertEquals(9 + 36 + 8, spool.dataBytes());
                spool.commit();
            }
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                assertEquals(List.of("p", "q", "s"), sf.names());
                for (String n : in.keySet()) assertArrayEquals(rawBytes(in.get(n)), rawBytes(sf.load(n)), n);
            }
            assertEquals(List.of(f), listDir(), "spill file removed");
        }
    }

    /** Offsets past 2 GiB (sparse file: no disk or memory is used for the hole) and chunked copies. */
    @Test
    void readsTensorsBeyondTwoGigabytesAndAcrossMapChunks() throws IOException {
        try (PointerScope scope = new PointerScope()) {
            long pad = (1L << 31) + 8;
            List<TensorInfo> infos = List.of(new TensorInfo("pad", DType.U8, new long[] {pad}, 0, pad),
                    new TensorInfo("x", DType.F32, new long[] {2, 3}, pad, pad + 24));
            byte[] header = SafetensorsWriter.headerBytes(Map.of(), infos);
            Path f = dir.resolve("big.safetensors");
            float[] x = {1, -2, 3.5f, 4, 5e-8f, -6};
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.write(header);
                raf.setLength(header.length + pad + 24);
                ByteBuffer xb = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
                for (float v : x) xb.putFloat(v);
                raf.seek(header.length + pad);
                raf.write(xb.array());
            }
            long chunk = SafetensorsFile.mapChunk;
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                assertArrayEquals(x, Tensors.toFloats(sf.load("x")));
                SafetensorsFile.mapChunk = 7;   // force several map/copy/unmap (and write) rounds for one tensor
                assertArrayEquals(x, Tensors.toFloats(sf.load("x")));
                Path small = dir.resolve("chunked.safetensors");
                SafetensorsWriter.write(small, Map.of("x", sf.load("x")), null);
                try (SafetensorsFile back = SafetensorsFile.open(small)) {
                    assertArrayEquals(x, Tensors.toFloats(back.load("x")));
                }
                SafetensorsException e = assertThrows(SafetensorsException.class, () -> sf.bytes("pad"));
                assertTrue(e.getMessage().contains("use load()"));
            } finally {
                SafetensorsFile.mapChunk = chunk;
            }
        }
    }

    private List<Path> listDir() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return new ArrayList<>(s.toList());
        }
    }
}
