package org.qoft4j.cli.compare;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;
import org.qoft4j.cli.charts.ChartPng;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.qoft4j.core.AtomicFiles;
import org.qoft4j.cli.bench.Machine;
import org.qoft4j.cli.bench.TrainProbe;
import org.qoft4j.core.Human;
import org.qoft4j.trainer.SkillEvals;

/**
 * The outcome of a {@link Comparison}: per variant what {@link TrainProbe} measured, as a Markdown table
 * ({@code report.md}), JSON ({@code report.json}) and one chart of the training-loss curves ({@code loss-curves.png}).
 */
public record ComparisonReport(CompareSpec spec, Machine machine, List<Run> runs) {
    public static final String MARKDOWN = "report.md", JSON = "report.json", CHART = "loss-curves.png";

    /** One variant's run and the directory holding its adapter, checkpoint, metrics and log. */
    public record Run(Variant variant, Path dir, TrainProbe.Result result) {}

    public ComparisonReport {
        runs = List.copyOf(runs);
    }

    public TrainProbe.Result result(Variant v) {
        for (Run r : runs) if (r.variant() == v) return r.result();
        throw new IllegalArgumentException(v + " was not part of this comparison");
    }

    /** The table: one row per variant. Skill cells read "before → after". */
    public String table() {
        boolean cuda = runs.stream().anyMatch(r -> r.result().cudaPeakBytes() != null);
        boolean evalLoss = runs.stream().anyMatch(r -> r.result().evalLoss() != null);
        List<String> skills = runs.isEmpty() ? List.of() : runs.get(0).result().after().stream().map(SkillEvals.Score::skill).toList();
        List<String> head = new ArrayList<>(List.of("run", "trainable parameters", "adapter bytes", cuda ? "peak memory (CUDA)" : "peak memory (RSS)",
                "step time", "tokens/s", "final train loss"));
        if (evalLoss) head.add("eval loss");
        for (String s : skills) {
            head.add(s + " loss");
            head.add(s + " accuracy");
        }
        head.add("max orthogonality error");
        StringBuilder b = new StringBuilder();
        b.append("| ").append(String.join(" | ", head)).append(" |\n");
        b.append("|").append("---|".repeat(head.size())).append('\n');
        for (Run run : runs) {
            TrainProbe.Result r = run.result();
            List<String> row = new ArrayList<>(List.of(run.variant().label() + " (" + r.quant() + ")", String.format(Locale.ROOT, "%,d", r.trainableParameters()),
                    Human.bytes(r.adapterBytes()), Human.bytes(r.peakBytes()), String.format(Locale.ROOT, "%.3f s", r.stepSeconds()),
                    String.format(Locale.ROOT, "%,.0f", r.tokensPerS()), String.format(Locale.ROOT, "%.4f", r.finalLoss())));
            if (evalLoss) row.add(r.evalLoss() == null ? "n/a" : String.format(Locale.ROOT, "%.4f", r.evalLoss()));
            for (int i = 0; i < skills.size(); i++) {
                SkillEvals.Score before = r.before().get(i), after = r.after().get(i);
                row.add(String.format(Locale.ROOT, "%.3f → %.3f", before.loss(), after.loss()));
                row.add(String.format(Locale.ROOT, "%.0f%% → %.0f%%", 100 * before.accuracy(), 100 * after.accuracy()));
            }
            row.add(r.maxOrthogonalityError() == null ? "n/a" : String.format(Locale.ROOT, "%.1e", r.maxOrthogonalityError()));
            b.append("| ").append(String.join(" | ", row)).append(" |\n");
        }
        return b.toString();
    }

    /** The first variant against each other one: step time, peak memory, throughput and parameter ratios. */
    public List<String> ratios() {
        List<String> out = new ArrayList<>();
        if (runs.size() < 2) return out;
        TrainProbe.Result a = runs.get(0).result();
        for (Run run : runs.subList(1, runs.size())) {
            TrainProbe.Result b = run.result();
            out.add(String.format(Locale.ROOT, "%s ÷ %s: step time %.2f×, peak memory %.2f×, tokens/s %.2f×, trainable parameters %.2f×",
                    runs.get(0).variant().label(), run.variant().label(), a.stepSeconds() / b.stepSeconds(), (double) a.peakBytes() / b.peakBytes(),
                    a.tokensPerS() / b.tokensPerS(), (double) a.trainableParameters() / b.trainableParameters()));
        }
        return out;
    }

    /** The whole of report.md. */
    public String markdown() {
        TrainProbe.Result first = runs.get(0).result();
        StringBuilder b = new StringBuilder("# Comparison\n\n");
        b.append("- model: ").append(first.model()).append('\n');
        if (spec.data() != null) b.append("- data: ").append(spec.data()).append('\n');
        spec.skills().forEach((name, f) -> b.append("- ").append(name).append(": ").append(f).append('\n'));
        b.append(String.format(Locale.ROOT, "- budget: %d steps of %d × %d tokens, seed and options: %s%n", first.steps(), first.batchSize(),
                first.seqLen(), String.join(" ", spec.options())));
        spec.variantOptions().forEach((v, o) -> b.append("- ").append(v.label()).append(" only: ").append(String.join(" ", o)).append('\n'));
        b.append(String.format(Locale.ROOT, "- device %s, compute dtype %s, %d threads, dequantization kernels: %s, recompute: %s%n", first.device(),
                first.dtype(), first.threads(), first.dequantizer(), first.recompute()));
        b.append("- machine: ").append(machine.describe()).append("\n\n");
        b.append(table()).append('\n');
        for (String r : ratios()) b.append("- ").append(r).append('\n');
        b.append('\n').append("Each run trained in its own JVM. Peak memory: ").append(first.cudaPeakBytes() != null
                ? "the CUDA allocator's peak allocated bytes during training."
                : "the process's resident high-water mark (VmHWM: JVM + libtorch + model) during training"
                + (first.peakResetAfterLoad() ? ", reset once the model and adapters were loaded." : " (including loading).")).append(' ');
        b.append(String.format(Locale.ROOT, "Step time and tokens/s: mean over steps %d..%d (the first %d untimed). ", first.steps() - first.timedSteps() + 1,
                first.steps(), first.steps() - first.timedSteps()));
        if (!spec.skills().isEmpty())
            b.append("Skill loss: mean next-token loss over the answers; accuracy: exact match of the greedy answer (")
                    .append(first.after().get(0).examples()).append(" examples per skill), before → after training.");
        b.append("\n\n![training loss](").append(CHART).append(")\n");
        return b.toString();
    }

    /** Writes report.md, report.json and loss-curves.png into {@code dir}, each atomically. */
    public void write(Path dir) {
        try {
            Files.createDirectories(dir);
            AtomicFiles.write(dir.resolve(MARKDOWN), markdown().getBytes(StandardCharsets.UTF_8));
            ObjectNode root = TrainProbe.JSON.createObjectNode();
            root.set("machine", TrainProbe.JSON.valueToTree(machine));
            ObjectNode s = root.putObject("spec");
            s.put("model", spec.model()).put("random_model", spec.randomModel()).put("data", spec.data()).put("quant", spec.quant());
            s.set("skills", TrainProbe.JSON.valueToTree(spec.skills()));
            s.set("options", TrainProbe.JSON.valueToTree(spec.options()));
            ObjectNode vo = s.putObject("variant_options");
            spec.variantOptions().forEach((v, o) -> vo.set(v.id(), TrainProbe.JSON.valueToTree(o)));
            ObjectNode rs = root.putObject("runs");
            for (Run r : runs) rs.set(r.variant().id(), TrainProbe.JSON.valueToTree(r.result()));
            root.set("ratios", TrainProbe.JSON.valueToTree(ratios()));
            AtomicFiles.write(dir.resolve(JSON), TrainProbe.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
            ChartPng.write(dir.resolve(CHART), chart());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the comparison report into " + dir + ": " + e.getMessage(), e);
        }
    }

    private XYChart chart() {
        XYChart chart = new XYChartBuilder().width(900).height(520).title("Training loss: " + String.join(" vs ",
                runs.stream().map(r -> r.variant().label()).toList())).xAxisTitle("step").yAxisTitle("loss (nats/token)").build();
        for (Run r : runs) {
            List<Double> y = r.result().losses();
            List<Integer> x = IntStream.rangeClosed(1, y.size()).boxed().toList();
            chart.addSeries(r.variant().label() + " (" + r.result().quant() + ")", x, y).setMarker(SeriesMarkers.NONE);
        }
        return chart;
    }

    /** Reads the per-variant results of a finished comparison directory back (e.g. to re-render its report). */
    public static Map<String, TrainProbe.Result> readRuns(Path dir) {
        try {
            ObjectNode root = (ObjectNode) TrainProbe.JSON.readTree(dir.resolve(JSON).toFile());
            Map<String, TrainProbe.Result> m = new java.util.LinkedHashMap<>();
            var it = root.path("runs").fields();
            while (it.hasNext()) {
                var e = it.next();
                m.put(e.getKey(), TrainProbe.JSON.treeToValue(e.getValue(), TrainProbe.Result.class));
            }
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir.resolve(JSON) + ": " + e.getMessage(), e);
        }
    }
}
