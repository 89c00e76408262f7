package org.qoft4j.data;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.StringJoiner;

/**
 * The lines of a UTF-8 file, split as {@link java.io.BufferedReader#readLine()} splits them ({@code \n}, {@code \r\n}
 * or {@code \r}), each decoded on its own and strictly: a line that is not valid UTF-8 comes back with a
 * description of the first bad byte and its offset in the file instead of text, so one bad line is an error naming
 * {@code file:line} (or a line to skip), not "Input length = 1" for the whole file.
 */
final class Utf8Lines implements AutoCloseable {
    /**
     * One line: its number (1-based), the file offset of its first byte, and its text — or, when it is not valid
     * UTF-8, null text and {@code problem} saying where and what.
     */
    record Line(int number, long offset, String text, String problem) {}

    private final InputStream in;
    private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    private byte[] buf = new byte[8192];
    private long offset;
    private int number;
    private int pushedBack = -1;

    Utf8Lines(Path file) throws IOException {
        this.in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
    }

    /** The next line, or null at the end of the file. */
    Line next() throws IOException {
        long start = offset;
        int len = 0, b;
        boolean any = false;
        while ((b = read()) >= 0) {
            any = true;
            if (b == '\n') break;
            if (b == '\r') {
                int c = read();
                if (c != '\n' && c >= 0) {
                    pushedBack = c;
                    offset--;
                }
                break;
            }
            if (len == buf.length) buf = Arrays.copyOf(buf, buf.length * 2);
            buf[len++] = (byte) b;
        }
        if (!any) return null;
        number++;
        return decode(start, len);
    }

    private int read() throws IOException {
        int b;
        if (pushedBack >= 0) {
            b = pushedBack;
            pushedBack = -1;
        } else {
            b = in.read();
        }
        if (b >= 0) offset++;
        return b;
    }

    private Line decode(long start, int len) {
        ByteBuffer bytes = ByteBuffer.wrap(buf, 0, len);
        CharBuffer chars = CharBuffer.allocate(len); // UTF-8 never decodes to more UTF-16 units than bytes
        decoder.reset();
        CoderResult r = decoder.decode(bytes, chars, true);
        if (!r.isError()) r = decoder.flush(chars);
        if (!r.isError()) return new Line(number, start, chars.flip().toString(), null);
        int at = bytes.position();
        StringJoiner shown = new StringJoiner(" ");
        for (int i = at; i < Math.min(len, at + Math.max(1, r.length())); i++) shown.add(String.format(Locale.ROOT, "0x%02X", buf[i] & 0xff));
        return new Line(number, start, null, "invalid UTF-8 at byte offset " + (start + at) + " of the file (byte " + (at + 1)
                + " of the line: " + shown + ")");
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
