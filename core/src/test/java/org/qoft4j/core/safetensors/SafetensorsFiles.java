package org.qoft4j.core.safetensors;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Hand-made safetensors files for tests: a length prefix, a header given verbatim, and data bytes. */
final class SafetensorsFiles {
    private SafetensorsFiles() {}

    static Path raw(Path file, String headerJson, int dataBytes) {
        return raw(file, headerJson.getBytes(StandardCharsets.UTF_8), dataBytes);
    }

    static Path raw(Path file, byte[] header, int dataBytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
        out.writeBytes(header);
        for (int i = 0; i < dataBytes; i++) out.write(i);
        return bytes(file, out.toByteArray());
    }

    static Path bytes(Path file, byte[] content) {
        try {
            Files.write(file, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    /** One tensor entry as JSON. */
    static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }
}
