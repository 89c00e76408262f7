package org.qoft4j.core;

import java.util.Locale;

/** Sizes and durations for people: binary units, as memory is counted; minutes and hours as a clock shows them. */
public final class Human {
    private Human() {}

    /** 1536 -> "1.5 KiB"; negative (unknown) -> "n/a". */
    public static String bytes(long bytes) {
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

    /** 125.0 -> "2m05s". */
    public static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s < 60) return s + "s";
        if (s < 3600) return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
    }
}
