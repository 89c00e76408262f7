package org.qoft4j.cli;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A data-parallel worker started by another launcher (torchrun, srun) writes what it prints, its log lines included,
 * to {@code OUT/logs/rank-K.log} as well as to its own stdout and stderr, as the workers of
 * {@code ./qoft4j finetune --nproc-per-node N} do (there the launcher writes the file).
 */
final class RankLog {
    private RankLog() {}

    /** From now on, System.out and System.err go to {@code file} too (appended). */
    static void teeInto(Path file) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            OutputStream log = new FileOutputStream(file.toFile(), true);
            System.setOut(new PrintStream(new Tee(System.out, log), true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(new Tee(System.err, log), true, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the rank's log " + file + ": " + e.getMessage(), e);
        }
    }

    /** Writes to both; the log file is shared by stdout and stderr, so writes to it are serialized on it. */
    private static final class Tee extends OutputStream {
        private final OutputStream a, log;

        Tee(OutputStream a, OutputStream log) {
            this.a = a;
            this.log = log;
        }

        @Override
        public void write(int b) throws IOException {
            a.write(b);
            synchronized (log) {
                log.write(b);
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            a.write(b, off, len);
            synchronized (log) {
                log.write(b, off, len);
            }
        }

        @Override
        public void flush() throws IOException {
            a.flush();
            synchronized (log) {
                log.flush();
            }
        }
    }
}
