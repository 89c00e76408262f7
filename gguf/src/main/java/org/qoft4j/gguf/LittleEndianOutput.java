package org.qoft4j.gguf;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Little-endian primitives onto a stream, counting the bytes written (GGUF offsets and padding need the position). */
final class LittleEndianOutput extends OutputStream {
    private final OutputStream out;
    private long position;

    LittleEndianOutput(OutputStream out) {
        this.out = out;
    }

    long position() {
        return position;
    }

    @Override
    public void write(int b) throws IOException {
        out.write(b);
        position++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        position += len;
    }

    @Override
    public void flush() throws IOException {
        out.flush();
    }

    void u8(long v) throws IOException {
        write((int) v);
    }

    void u16(long v) throws IOException {
        write((int) v);
        write((int) (v >>> 8));
    }

    void u32(long v) throws IOException {
        for (int i = 0; i < 4; i++) write((int) (v >>> (8 * i)));
    }

    void u64(long v) throws IOException {
        for (int i = 0; i < 8; i++) write((int) (v >>> (8 * i)));
    }

    void f32(float v) throws IOException {
        u32(Float.floatToRawIntBits(v) & 0xFFFF_FFFFL);
    }

    void f64(double v) throws IOException {
        u64(Double.doubleToRawLongBits(v));
    }

    /** A GGUF string: uint64 byte length, then UTF-8 bytes (no terminator). */
    void string(String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        u64(b.length);
        write(b, 0, b.length);
    }

    /** Zero bytes up to the next multiple of {@code alignment}. */
    void padTo(int alignment) throws IOException {
        long pad = (alignment - position % alignment) % alignment;
        for (long i = 0; i < pad; i++) write(0);
    }
}
