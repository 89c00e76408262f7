package org.qoft4j.trainer.dist;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.stream.Stream;

/**
 * SHA-256 digests that ranks compare at start-up ({@link DataParallelGroup#requireSameOnAllRanks}) to catch a worker
 * started with other settings or other model files.
 *
 * <p>A model directory's fingerprint reads little of a large file: its relative path, its size, and its first and
 * last MiB (a safetensors file starts with its JSON header of tensor names, dtypes, shapes and offsets); files up to
 * 2 MiB (config.json, tokenizer files) are read whole. Two different checkpoints of one architecture agree on sizes
 * and headers but not on their first and last weights, so they differ; a corrupted middle of a large file would not
 * be noticed (that is not what this check is for: loading validates the files).
 */
public final class Fingerprint {
    private static final int EDGE = 1 << 20;

    private Fingerprint() {}

    /** SHA-256 of the UTF-8 text (e.g. the effective configuration, minus keys allowed to differ by rank). */
    public static byte[] of(String text) {
        MessageDigest d = sha256();
        d.update(text.getBytes(StandardCharsets.UTF_8));
        return d.digest();
    }

    /** The fingerprint of every regular, non-hidden file under {@code dir}, in path order (see the class comment). */
    public static byte[] ofModelDirectory(Path dir) {
        MessageDigest d = sha256();
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(Files::isRegularFile).filter(p -> !dir.relativize(p).toString().startsWith(".")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the model directory " + dir, e);
        }
        for (Path f : files) {
            d.update(dir.relativize(f).toString().getBytes(StandardCharsets.UTF_8));
            d.update((byte) 0);
            update(d, f, "model");
        }
        return d.digest();
    }

    /** The fingerprint of one file (a training JSONL): its size, and its first and last MiB (all of it up to 2 MiB). */
    public static byte[] ofFile(Path file) {
        MessageDigest d = sha256();
        update(d, file, "data");
        return d.digest();
    }

    private static void update(MessageDigest d, Path f, String what) {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            long size = ch.size();
            d.update(ByteBuffer.allocate(8).putLong(0, size));
            if (size <= 2L * EDGE) {
                read(ch, 0, (int) size, d);
            } else {
                read(ch, 0, EDGE, d);
                read(ch, size - EDGE, EDGE, d);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + f + " for the " + what + " fingerprint", e);
        }
    }

    private static void read(FileChannel ch, long pos, int len, MessageDigest d) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        while (b.hasRemaining()) {
            int n = ch.read(b, pos + b.position());
            if (n < 0) throw new IOException("file shrank while reading it");
        }
        b.flip();
        d.update(b);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
