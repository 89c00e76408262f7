package org.qoft4j.trainer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.ArchiveWriter;
import org.bytedeco.pytorch.OutputArchive;
import org.qoft4j.core.AtomicFiles;
import org.qoft4j.core.FileWrites;

/**
 * Writes a libtorch archive ({@code torch::serialize::OutputArchive}, the {@code torch.save} format) to a file
 * through Java. libtorch's own {@code save_to(filename)} kills the JVM when the disk fills: its zip writer fails,
 * and its destructor then throws again from a {@code noexcept} context ("unexpected pos ...", {@code terminate},
 * exit 134, measured on a 600 KiB tmpfs). Here libtorch hands each chunk to a Java callback that always reports it
 * written, so libtorch never sees a failure; the callback writes through {@link FileWrites} and keeps the first
 * {@link IOException}, thrown once {@code save_to} has returned. The bytes stream to a temporary file renamed onto
 * the target, so nothing is held in memory and no partial file carries the target's name.
 */
final class TorchArchiveFile {
    private TorchArchiveFile() {}

    /** Saves {@code archive} to {@code file} (replaced atomically); a full disk is an {@link IOException}. */
    static void save(OutputArchive archive, Path file) throws IOException {
        Path temp = AtomicFiles.tempBeside(file, ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE); Sink sink = new Sink(ch)) {
                archive.save_to(sink);
                if (sink.failure != null) throw sink.failure;
                ch.force(true);
            }
            AtomicFiles.move(temp, file);
        } catch (IOException | RuntimeException e) {
            AtomicFiles.deleteQuietly(temp);
            throw e;
        }
    }

    /** libtorch's writer function {@code size_t(const void* data, size_t n)}, implemented in Java. */
    private static final class Sink extends ArchiveWriter {
        private final FileChannel ch;
        IOException failure;

        Sink(FileChannel ch) {
            super(); // allocates the native thunk that calls call()
            this.ch = ch;
        }

        @Override
        public long call(Pointer data, long size) {
            if (failure != null || size == 0) return size; // after a failure the rest is dropped; libtorch must not notice
            try {
                if (data == null || data.isNull()) throw new IOException("libtorch asked to skip " + size + " bytes, which a stream cannot do");
                BytePointer bytes = new BytePointer(data).capacity(size);
                for (long done = 0; done < size; ) {
                    long n = Math.min(1L << 30, size - done);
                    ByteBuffer chunk = bytes.position(done).limit(done + n).asByteBuffer();
                    FileWrites.writeFully(ch, chunk);
                    done += n;
                }
            } catch (IOException e) {
                failure = e;
            } catch (RuntimeException | Error e) { // nothing may cross back into libtorch
                failure = new IOException("cannot write the archive: " + e, e);
            }
            return size;
        }
    }
}
