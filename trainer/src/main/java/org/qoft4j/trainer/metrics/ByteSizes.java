package org.qoft4j.trainer.metrics;

import java.util.Locale;

/** Byte counts for people: binary units, as memory is counted. */
public final class ByteSizes {
    private ByteSizes() {}

    /** 1536 -> "1.5 KiB"; negative (unknown) -> "n/a". */
    public static String human(long bytes) {
        if (bytes < 0) return "n/a";
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
