package org.qoft4j.trainer.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Model-directory fingerprints: equal for equal files, different for any change the class comment promises to see. */
class FingerprintTest {
    @TempDir
    Path tmp;

    @Test
    void seesNamesSizesSmallFilesAndTheEdgesOfLargeOnes() throws IOException {
        Path a = model(tmp.resolve("a")), b = model(tmp.resolve("b"));
        byte[] fa = Fingerprint.ofModelDirectory(a);
        assertArrayEquals(fa, Fingerprint.ofModelDirectory(b), "two copies of the same files");
        Files.writeString(b.resolve(".cache"), "ignored");  // hidden files do not count
        assertArrayEquals(fa, Fingerprint.ofModelDirectory(b));

        Files.writeString(b.resolve("config.json"), "{\"hidden_size\": 65}");
        assertDiffers(fa, b, "a small file's content");
        model(b);
        flipByte(b.resolve("model.safetensors"), 5L << 20);  // the last MiB of a 6 MiB file
        assertDiffers(fa, b, "the end of a large file");
        model(b);
        flipByte(b.resolve("model.safetensors"), 100);
        assertDiffers(fa, b, "the start of a large file");
        model(b);
        Files.move(b.resolve("config.json"), b.resolve("config2.json"));
        assertDiffers(fa, b, "a file name");
        assertFalse(Arrays.equals(Fingerprint.of("lr=1e-4"), Fingerprint.of("lr=2e-4")));
    }

    private static void assertDiffers(byte[] reference, Path dir, String what) {
        assertFalse(Arrays.equals(reference, Fingerprint.ofModelDirectory(dir)), what + " changed, the fingerprint did not");
    }

    private static Path model(Path dir) throws IOException {
        if (Files.exists(dir)) try (var s = Files.list(dir)) {
            for (Path p : s.toList()) Files.delete(p);
        }
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 64}");
        byte[] weights = new byte[6 << 20];
        new Random(1).nextBytes(weights);
        Files.write(dir.resolve("model.safetensors"), weights);
        return dir;
    }

    private static void flipByte(Path f, long pos) throws IOException {
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.seek(pos);
            int v = r.read();
            r.seek(pos);
            r.write(v ^ 0xff);
        }
    }
}
