package org.qoft4j.gguf;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** Buffered little-endian reads from a file channel, with the position and the bytes left known (for bounds checks). */
final class LittleEndianInput {
    private final FileChannel ch;
    private final long size;
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    private long bufStart; // file position of buf[0]

    LittleEndianInput(FileChannel ch) throws IOException {
        this.ch = ch;
        this.size = ch.size();
        buf.limit(0);
    }

    long position() {
        return bufStart + buf.position();
    }

    long remaining() {
        return size - position();
    }

    long size() {
        return size;
    }

    private void need(int n) throws IOException {
        if (buf.remaining() >= n) return;
        long pos = position();
        if (size - pos < n) throw new EOFException("the file ends at byte " + size + ", " + n + " more bytes needed at " + pos);
        buf.compact();
        bufStart = pos - buf.position();
        while (buf.position() < n) {
            int r = ch.read(buf, bufStart + buf.position());
            if (r < 0) throw new EOFException("unexpected end of file at " + (bufStart + buf.position()));
        }
        buf.flip();
    }

    int u8() throws IOException {
        need(1);
        return buf.get() & 0xFF;
    }

    int u16() throws IOException {
        need(2);
        return buf.getShort() & 0xFFFF;
    }

    long u32() throws IOException {
        need(4);
        return buf.getInt() & 0xFFFF_FFFFL;
    }

    long u64() throws IOException {
        need(8);
        return buf.getLong();
    }

    float f32() throws IOException {
        need(4);
        return buf.getFloat();
    }

    double f64() throws IOException {
        need(8);
        return buf.getDouble();
    }

    byte[] bytes(int n) throws IOException {
        byte[] out = new byte[n];
        int done = 0;
        while (done < n) {
            int chunk = Math.min(n - done, buf.capacity());
            need(chunk);
            buf.get(out, done, chunk);
            done += chunk;
        }
        return out;
    }

    /** A GGUF string (uint64 length + UTF-8 bytes); {@code what} names it in errors. */
    String string(String what) throws IOException {
        long at = position();
        long n = u64();
        if (n < 0 || n > remaining()) throw new GgufFormatException(what + " at byte " + at + ": string length " + Long.toUnsignedString(n) + " exceeds the file");
        if (n > Integer.MAX_VALUE) throw new GgufFormatException(what + " at byte " + at + ": string of " + n + " bytes is too long");
        byte[] b = bytes((int) n);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw new GgufFormatException(what + " at byte " + at + ": not valid UTF-8");
        }
    }

    void seek(long pos) {
        if (pos >= bufStart && pos <= bufStart + buf.limit()) {
            buf.position((int) (pos - bufStart));
        } else {
            bufStart = pos;
            buf.clear().limit(0);
        }
    }
}
