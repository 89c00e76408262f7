package org.qoft4j.gguf;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * {@code qoft4j inspect FILE.gguf}: a GGUF file's header, its metadata (arrays shortened to their first elements)
 * and its tensors (type, ggml dimensions, PyTorch shape, bytes, data offset), with totals by type.
 */
public final class GgufInspector {
    private GgufInspector() {}

    public static boolean isGguf(Path p) {
        return p.getFileName() != null && p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".gguf");
    }

    /** Prints {@code file}; {@code maxArray} elements of each array are shown. */
    public static void print(Path file, PrintWriter o, int maxArray) {
        GgufFile g = GgufFile.read(file);
        o.printf(Locale.ROOT, "%s: GGUF v%d, %d bytes (%s), %d metadata keys, %d tensors, alignment %d, data at byte %d%n", file, g.version(), g.fileSize(),
                GgufExport.human(g.fileSize()), g.metadata().size(), g.tensors().size(), g.alignment(), g.dataOffset());
        o.println("METADATA");
        int keyWidth = g.metadata().keySet().stream().mapToInt(String::length).max().orElse(10);
        for (Map.Entry<String, GgufValue> e : g.metadata().entrySet())
            o.printf(Locale.ROOT, "  %-" + keyWidth + "s %-8s %s%n", e.getKey(), e.getValue().type().name().toLowerCase(Locale.ROOT), e.getValue().display(maxArray));
        o.println("TENSORS");
        int nameWidth = Math.max(4, g.tensors().keySet().stream().mapToInt(String::length).max().orElse(4));
        o.printf(Locale.ROOT, "  %-" + nameWidth + "s %-6s %-22s %-22s %12s %12s%n", "NAME", "TYPE", "NE (ggml order)", "SHAPE (PyTorch)", "BYTES", "OFFSET");
        Map<GgmlType, long[]> totals = new EnumMap<>(GgmlType.class); // {tensors, bytes, values}
        for (GgufTensorInfo t : g.tensors().values()) {
            o.printf(Locale.ROOT, "  %-" + nameWidth + "s %-6s %-22s %-22s %12d %12d%n", t.name(), t.type().ggmlName(), Arrays.toString(t.ne()),
                    Arrays.toString(t.torchShape()), t.bytes(), t.offset());
            long[] s = totals.computeIfAbsent(t.type(), k -> new long[3]);
            s[0]++;
            s[1] += t.bytes();
            s[2] += t.elements();
        }
        long bytes = 0, values = 0;
        for (Map.Entry<GgmlType, long[]> e : totals.entrySet()) {
            o.printf(Locale.ROOT, "  %-6s %4d tensors, %,15d values, %,15d bytes (%.3f bits/value)%n", e.getKey().ggmlName(), e.getValue()[0], e.getValue()[2],
                    e.getValue()[1], e.getValue()[1] * 8.0 / e.getValue()[2]);
            bytes += e.getValue()[1];
            values += e.getValue()[2];
        }
        o.printf(Locale.ROOT, "total: %,d values in %,d bytes of tensor data (%.3f bits/value)%n", values, bytes, values == 0 ? 0.0 : bytes * 8.0 / values);
        o.flush();
    }
}
