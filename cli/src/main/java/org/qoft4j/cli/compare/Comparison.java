package org.qoft4j.cli.compare;

import org.qoft4j.core.DeviceSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.qoft4j.core.AtomicFiles;
import org.qoft4j.core.ChildJvm;
import org.qoft4j.trainer.dist.LaunchPlan;
import org.qoft4j.trainer.dist.Launcher;
import org.qoft4j.cli.bench.Machine;
import org.qoft4j.cli.bench.TrainProbe;
import org.qoft4j.trainer.ConfigException;
import org.qoft4j.trainer.Finetune;

/**
 * Runs a {@link CompareSpec}: each variant trains in its own JVM ({@link ChildJvm} running {@link TrainProbe}), so
 * its peak memory is its own, then the report is written. {@code ./qoft4j compare} is this with flags.
 *
 * <pre>{@code
 * ComparisonReport r = Comparison.run(CompareSpec.testData().withOut(Path.of("runs/compare")), System.out::println);
 * System.out.println(r.table());
 * }</pre>
 *
 * Layout of {@code spec.out()}: {@code VARIANT/} (the run: adapter/, checkpoints/, metrics.jsonl, loss.png,
 * run.log or, data-parallel, logs/rank-K.log, probe.json, result.json) for each variant, then report.md, report.json and loss-curves.png.
 */
public final class Comparison {
    private Comparison() {}

    /** @param log receives progress lines (each child's output, prefixed with its variant) */
    public static ComparisonReport run(CompareSpec spec, Consumer<String> log) {
        spec.validate();
        for (String o : spec.options()) if (o.startsWith("device=")) DeviceSpec.parse(o.substring("device=".length())).requireAvailable();
        Path out = spec.out().toAbsolutePath().normalize();
        for (Variant v : spec.variants()) prepare(out.resolve(v.id()), spec.overwrite());
        List<ComparisonReport.Run> runs = new ArrayList<>();
        boolean cuda = false;
        for (Variant v : spec.variants()) {
            Path dir = out.resolve(v.id());
            Path specFile = dir.resolve("probe.json"), result = dir.resolve("result.json");
            TrainProbe.Spec probe = new TrainProbe.Spec(spec.runOptions(v, dir), spec.randomModel(), spec.skills(), spec.maxEvalExamples(),
                    spec.untimedSteps(), result.toString());
            try {
                Files.createDirectories(dir);
                AtomicFiles.write(specFile, TrainProbe.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(probe));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + specFile + ": " + e.getMessage(), e);
            }
            if (spec.processes() == 1) {
                log.accept("== " + v.label() + ": training in a child JVM (log: " + dir.resolve("run.log") + ")");
                try {
                    ChildJvm.run(TrainProbe.class, List.of(specFile.toString()), dir.resolve("run.log"), line -> log.accept("[" + v.id() + "] " + line));
                } catch (ChildJvm.ChildFailedException e) {
                    throw failed(v, dir.resolve("run.log"), e);
                }
            } else {  // data-parallel: rank 0 writes the result, with global tokens/s and every rank's peak memory
                log.accept("== " + v.label() + ": training in " + spec.processes() + " data-parallel worker JVMs (logs: " + dir.resolve("logs") + ")");
                new Launcher(LaunchPlan.standalone(spec.processes()), dir.resolve("logs"), 0, Duration.ofSeconds(10), List.of(),
                        line -> log.accept("[" + v.id() + "] " + line)).run(TrainProbe.class.getName(), List.of(specFile.toString()));
            }
            TrainProbe.Result r = TrainProbe.read(result);
            cuda |= r.cudaPeakBytes() != null;
            runs.add(new ComparisonReport.Run(v, dir, r));
        }
        ComparisonReport report = new ComparisonReport(spec, Machine.here(cuda), runs);
        report.write(out);
        log.accept("wrote " + out.resolve(ComparisonReport.MARKDOWN) + ", " + ComparisonReport.JSON + " and " + ComparisonReport.CHART);
        return report;
    }

    /** The child's own "error: ..." line (TrainProbe reports bad input so) as one line naming the variant; else the child's tail. */
    private static RuntimeException failed(Variant v, Path logFile, ChildJvm.ChildFailedException e) {
        try (Stream<String> lines = Files.lines(logFile)) {
            String error = lines.filter(l -> l.startsWith("error: ")).reduce((a, b) -> b).orElse(null);
            if (error != null) return new IllegalStateException("variant " + v.id() + " failed: " + error.substring("error: ".length()) + " (log: " + logFile + ")", e);
        } catch (IOException | UncheckedIOException ignored) {
            // the child's tail in e says what there is to say
        }
        return e;
    }

    /** A variant's directory must be new or empty, unless {@code overwrite} (then it is deleted first). */
    private static void prepare(Path dir, boolean overwrite) {
        if (!Files.exists(dir)) return;
        boolean empty;
        try (Stream<Path> s = Files.list(dir)) {
            empty = s.findAny().isEmpty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir + ": " + e.getMessage(), e);
        }
        if (empty) return;
        if (!overwrite) throw new ConfigException(dir + " already holds a run; choose another output directory or overwrite it");
        AtomicFiles.deleteQuietly(dir);
        if (Files.exists(dir)) throw new ConfigException("cannot delete " + dir + " to overwrite it");
    }
}
