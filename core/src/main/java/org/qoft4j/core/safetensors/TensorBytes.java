package org.qoft4j.core.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

/** Moves a tensor's raw bytes (row-major, little-endian as on this machine) to a file channel. */
final class TensorBytes {
    private TensorBytes() {}

    /** Writes {@code byteLength} bytes of {@code t} (copied to a contiguous CPU tensor first if needed) at {@code pos}. */
    static void write(Tensor t, FileChannel ch, long pos, long byteLength) throws IOException {
        if (byteLength == 0) return;
        Tensor c = t.device().is_cpu() ? t.contiguous() : t.to(new Device("cpu"), t.scalar_type()).contiguous();
        if (c.nbytes() != byteLength) throw new IllegalStateException("tensor has " + c.nbytes() + " bytes, expected " + byteLength);
        BytePointer p = new BytePointer(c.data_ptr());
        for (long done = 0; done < byteLength; ) {
            long len = Math.min(SafetensorsFile.mapChunk, byteLength - done);
            ByteBuffer chunk = p.position(done).limit(done + len).asByteBuffer();
            writeFully(ch, chunk, pos + done);
            done += len;
        }
    }

    static void writeFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        org.qoft4j.core.FileWrites.writeFully(ch, buf, pos);
    }
}
