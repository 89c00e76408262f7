package org.qoft4j.cli.charts;

import java.util.Locale;
import org.qoft4j.trainer.MetricsLog;
import org.qoft4j.trainer.TrainConfig;
import org.qoft4j.trainer.TrainSummary;
import org.qoft4j.trainer.TrainingListener;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** {@code loss.png}: train loss per step and eval loss at each evaluation, drawn with XChart from {@code metrics.jsonl}. */
public final class LossCurve {
    public static final String FILE = "loss.png";

    private LossCurve() {}

    /** A listener that draws {@code OUT/loss.png} from {@code OUT/metrics.jsonl} when training ends. */
    public static TrainingListener listener(TrainConfig c) {
        Path out = c.outDir();
        String title = c.adapter().key().toUpperCase(Locale.ROOT) + " on " + c.quant() + " — " + c.modelDir().getFileName();
        return new TrainingListener() {
            @Override
            public void onEnd(TrainSummary summary) {
                write(out.resolve(MetricsLog.FILE), out.resolve(FILE), title);
            }
        };
    }

    /** Draws the curves of a metrics file into {@code png} (written atomically; nothing when it has no losses). */
    public static void write(Path metrics, Path png, String title) {
        System.setProperty("java.awt.headless", "true");
        List<Double> trainX = new ArrayList<>(), trainY = new ArrayList<>(), evalX = new ArrayList<>(), evalY = new ArrayList<>();
        for (JsonNode n : MetricsLog.read(metrics)) {
            boolean eval = "eval".equals(n.path("kind").asText());
            JsonNode y = n.path(eval ? "eval_loss" : "loss");
            if (!y.isNumber()) continue;
            (eval ? evalX : trainX).add(n.path("step").asDouble());
            (eval ? evalY : trainY).add(y.asDouble());
        }
        if (trainX.isEmpty() && evalX.isEmpty()) return; // nothing to draw yet
        XYChart chart = new XYChartBuilder().width(800).height(500).title(title).xAxisTitle("step").yAxisTitle("loss (nats/token)").build();
        if (!trainX.isEmpty()) chart.addSeries("train", trainX, trainY).setMarker(SeriesMarkers.NONE);
        if (!evalX.isEmpty()) chart.addSeries("eval", evalX, evalY).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line)
                .setMarker(SeriesMarkers.CIRCLE);
        ChartPng.write(png, chart);
    }
}
