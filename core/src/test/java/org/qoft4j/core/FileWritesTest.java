package org.qoft4j.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The simulated full disk behaves as a real one (what fits is written, then ENOSPC), and the atomic writers turn it into one clear error. */
class FileWritesTest {
    @TempDir
    Path tmp;

    @Test
    void writesWhatFitsThenFailsAsTheOperatingSystemDoes() throws IOException {
        Path f = tmp.resolve("f.bin");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileWrites.SimulatedDiskFull full = FileWrites.failAfter(10)) {
            FileWrites.writeFully(ch, ByteBuffer.wrap(new byte[6]), 0);
            ByteBuffer more = ByteBuffer.wrap("abcdefgh".getBytes(StandardCharsets.US_ASCII));
            IOException e = assertThrows(IOException.class, () -> FileWrites.writeFully(ch, more, 6));
            assertTrue(e.getMessage().startsWith(FileWrites.NO_SPACE) && DiskFullException.isDiskFull(e), e.getMessage());
            assertEquals(4, more.position(), "the 4 bytes that fit were written");
            assertThrows(IOException.class, () -> FileWrites.writeFully(ch, ByteBuffer.wrap(new byte[1]), 10));
        }
        assertEquals("abcd", new String(Files.readAllBytes(f), 6, 4, StandardCharsets.US_ASCII));
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            FileWrites.writeFully(ch, ByteBuffer.wrap(new byte[100]), 0); // closed: no limit any more
        }
    }

    @Test
    void onlyTheArmedThreadIsAffected() throws Exception {
        AtomicReference<Throwable> other = new AtomicReference<>();
        try (FileWrites.SimulatedDiskFull full = FileWrites.failAfter(0)) {
            Thread t = new Thread(() -> {
                try {
                    AtomicFiles.write(tmp.resolve("other.txt"), new byte[50]);
                } catch (Throwable e) {
                    other.set(e);
                }
            });
            t.start();
            t.join();
        }
        assertEquals(null, other.get());
        assertEquals(50, Files.size(tmp.resolve("other.txt")));
    }

    @Test
    void atomicWritesNameTheTargetAndLeaveItAsItWas() throws IOException {
        Path target = tmp.resolve("config.yaml");
        Files.writeString(target, "old");
        DiskFullException e;
        try (FileWrites.SimulatedDiskFull full = FileWrites.failAfter(3)) {
            e = assertThrows(DiskFullException.class, () -> AtomicFiles.write(target, "new content".getBytes(StandardCharsets.UTF_8)));
        }
        assertTrue(e.getMessage().startsWith("no space left on device writing " + target + " (") && e.getMessage().contains(" free on "), e.getMessage());
        assertEquals("old", Files.readString(target));
        assertEquals(List.of(target), list(tmp));

        Path dir = tmp.resolve("adapter");
        try (FileWrites.SimulatedDiskFull full = FileWrites.failAfter(5)) {
            e = assertThrows(DiskFullException.class, () -> AtomicDirectories.write(dir, d -> AtomicFiles.write(d.resolve("a.bin"), new byte[64])));
        }
        assertTrue(e.getMessage().startsWith("no space left on device writing "), e.getMessage());
        assertFalse(Files.exists(dir));
        assertEquals(List.of(target), list(tmp), "no temporary directory is left");
    }

    @Test
    void recognisesTheOperatingSystemsWords() {
        assertTrue(DiskFullException.isDiskFull(new RuntimeException("wrapped", new IOException("No space left on device"))));
        assertTrue(DiskFullException.isDiskFull(new IOException("Disk quota exceeded")));
        assertTrue(DiskFullException.isDiskFull(new IOException("File too large")));
        assertFalse(DiskFullException.isDiskFull(new IOException("Permission denied")));
    }

    @Test
    void writesWithRoomLeftAreUnchanged() throws IOException {
        Path target = tmp.resolve("x.bin");
        byte[] content = new byte[1000];
        for (int i = 0; i < content.length; i++) content[i] = (byte) i;
        try (FileWrites.SimulatedDiskFull full = FileWrites.failAfter(1000)) {
            AtomicFiles.write(target, content);
        }
        assertArrayEquals(content, Files.readAllBytes(target));
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }
}
