package org.qoft4j.cli.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.qoft4j.core.AtomicFiles;

/** Pre-tokenized JSONL of random token ids, every token scored: training data for random-weight models. */
public final class RandomTokens {
    private RandomTokens() {}

    /** Writes {@code rows} records of {@code length} ids below {@code vocab} to {@code file} (atomically) and returns it. */
    public static Path write(Path file, int rows, int length, int vocab, long seed) throws IOException {
        Random r = new Random(seed);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < rows; i++) {
            sb.append("{\"input_ids\": [");
            for (int j = 0; j < length; j++) sb.append(j == 0 ? "" : ",").append(r.nextInt(vocab));
            sb.append("]}\n");
        }
        Files.createDirectories(file.toAbsolutePath().getParent());
        AtomicFiles.write(file, sb.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return file;
    }
}
