package org.qoft4j.cli.charts;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.qoft4j.core.AtomicFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes an XChart chart as a PNG, atomically. Charts are a by-product of a run: on a machine whose Java runtime
 * cannot draw text (a trimmed runtime without the system's font libraries, e.g. libharfbuzz missing on a bare GPU
 * machine) the chart is skipped with one warning instead of failing a finished training run.
 */
public final class ChartPng {
    private static final Logger LOG = LoggerFactory.getLogger(ChartPng.class);
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private ChartPng() {}

    /** @return whether the file was written */
    public static boolean write(Path png, Chart<?, ?> chart) {
        System.setProperty("java.awt.headless", "true");
        byte[] bytes;
        try {
            bytes = BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
        } catch (LinkageError | InternalError | IOException e) {  // UnsatisfiedLinkError / NoClassDefFoundError from AWT's font manager
            if (WARNED.compareAndSet(false, true))
                LOG.warn("charts skipped ({} not written): this Java runtime cannot render text: {}", png.getFileName(), e.toString());
            return false;
        }
        AtomicFiles.write(png, bytes);
        return true;
    }
}
