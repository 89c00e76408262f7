package org.qoft4j.cli.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.qoft4j.core.Human;
import org.qoft4j.data.TestData;

/**
 * The bench cases of issue 12 (training-step efficiency), each measured side by side in one run:
 * <ul>
 *   <li>{@code recompute}: QOFT with layer-wise recomputation ({@code memory-budget} lean: every layer but the top
 *       recomputed; auto: as many top layers kept as half the free memory holds) against {@code --no-recompute}, on
 *       the test-data model (the demo's settings) and on a random {@code d1024} model, the three interleaved
 *       {@code --repeats} times; target step time ≤ 1.15x (median of the repeats' ratios), and the peak of each;</li>
 *   <li>{@code bf16}: QOFT on the {@code d1024} model in bf16 against fp32, 20 steps each from the same seed:
 *       tokens/s (target bf16 ≥ 1.3x) and the largest difference of the loss curves;</li>
 *   <li>{@code contention}: the demo's training (30 steps, median step) alone, beside one CPU-bound process the bench
 *       starts itself ({@code yes > /dev/null}), and as one of two trainings at once; target ≥ 0.4x the quiet
 *       throughput (the fair share of 2 cores is 0.5x); with {@code threads} = all cores and = 1, so a thread setting
 *       that wins under load is also seen on the quiet machine.</li>
 * </ul>
 * Every run is the real trainer in its own JVM ({@link TrainProbe}). Ratios over medians of the timed steps, with the
 * means beside them.
 */
final class StepEfficiencyBench {
    private StepEfficiencyBench() {}

    static ObjectNode recompute(BenchSuite.Options o, Consumer<String> log) {
        ObjectNode root = TrainProbe.JSON.createObjectNode();
        for (String model : List.of("test-data", "d1024")) {
            ObjectNode m = root.putObject(model);
            ArrayNode runs = m.putArray("repeats");
            List<Double> leanRatios = new ArrayList<>(), autoRatios = new ArrayList<>();
            for (int r = 1; r <= Math.max(1, o.repeats()); r++) { // interleaved: a slow patch of the machine hits all three
                String at = "recompute-" + model + "-" + r;
                TrainProbe.Result full = run(o, at + "-none", model, 12, List.of("recompute=false"), log);
                TrainProbe.Result lean = run(o, at + "-lean", model, 12, List.of("recompute=true", "memory-budget=lean"), log);
                TrainProbe.Result auto = run(o, at + "-auto", model, 12, List.of("recompute=true", "memory-budget=auto"), log);
                ObjectNode one = runs.addObject();
                one.set("no_recompute", summary(full));
                one.set("recompute_lean", summary(lean));
                one.set("recompute_auto", summary(auto));
                leanRatios.add(lean.medianStepSeconds() / full.medianStepSeconds());
                autoRatios.add(auto.medianStepSeconds() / full.medianStepSeconds());
                one.put("lean_step_time_over_no_recompute", leanRatios.get(r - 1));
                one.put("auto_step_time_over_no_recompute", autoRatios.get(r - 1));
                one.put("lean_peak_over_no_recompute", (double) lean.peakBytes() / full.peakBytes());
                one.put("auto_peak_over_no_recompute", (double) auto.peakBytes() / full.peakBytes());
                log.accept(String.format(Locale.ROOT, "bench: recompute on %s (repeat %d): lean %.2fx, auto %.2fx the step time of no recompute; peaks %s / %s / %s",
                        model, r, leanRatios.get(r - 1), autoRatios.get(r - 1), Human.bytes(lean.peakBytes()), Human.bytes(auto.peakBytes()),
                        Human.bytes(full.peakBytes())));
            }
            BenchSuite.target(m, "lean_step_time_over_no_recompute", StepStats.median(leanRatios), "<=", 1.15);
            BenchSuite.target(m, "auto_step_time_over_no_recompute", StepStats.median(autoRatios), "<=", 1.15);
        }
        return root;
    }

    static ObjectNode bf16(BenchSuite.Options o, Consumer<String> log) {
        ObjectNode c = TrainProbe.JSON.createObjectNode();
        TrainProbe.Result fp32 = run(o, "bf16-fp32", "d1024", 20, List.of("dtype=fp32"), log);
        TrainProbe.Result bf16 = run(o, "bf16-bf16", "d1024", 20, List.of("dtype=bf16"), log);
        c.set("fp32", summary(fp32));
        c.set("bf16", summary(bf16));
        BenchSuite.target(c, "bf16_tokens_per_s_over_fp32", fp32.medianStepSeconds() / bf16.medianStepSeconds(), ">=", 1.3);
        double worst = 0;
        for (int i = 0; i < Math.min(fp32.losses().size(), bf16.losses().size()); i++)
            worst = Math.max(worst, Math.abs(fp32.losses().get(i) - bf16.losses().get(i)));
        c.put("max_loss_difference", worst);
        c.set("fp32_losses", TrainProbe.JSON.valueToTree(fp32.losses()));
        c.set("bf16_losses", TrainProbe.JSON.valueToTree(bf16.losses()));
        log.accept(String.format(Locale.ROOT, "bench: bf16 %.2fx the tokens/s of fp32 (median step %.3f vs %.3f s); losses differ by at most %.4f",
                fp32.medianStepSeconds() / bf16.medianStepSeconds(), bf16.medianStepSeconds(), fp32.medianStepSeconds(), worst));
        return c;
    }

    static ObjectNode contention(BenchSuite.Options o, Consumer<String> log) {
        ObjectNode root = TrainProbe.JSON.createObjectNode();
        int cores = Runtime.getRuntime().availableProcessors();
        root.put("cores", cores);
        for (int threads : List.of(0, 1)) {
            String t = threads == 0 ? "threads_all" : "threads_1";
            List<String> opt = List.of("threads=" + threads);
            ObjectNode c = root.putObject(t);
            TrainProbe.Result quiet = run(o, "contention-" + t + "-quiet", "test-data", 30, opt, log);
            TrainProbe.Result besideYes;
            Process yes = startYes();
            try {
                besideYes = run(o, "contention-" + t + "-yes", "test-data", 30, opt, log);
            } finally {
                yes.destroyForcibly();
            }
            CompletableFuture<TrainProbe.Result> other = CompletableFuture.supplyAsync(() -> run(o, "contention-" + t + "-pair-b", "test-data", 30, opt, log));
            TrainProbe.Result pairA = run(o, "contention-" + t + "-pair-a", "test-data", 30, opt, log);
            TrainProbe.Result pairB = other.join();
            c.set("quiet", summary(quiet));
            c.set("beside_yes", summary(besideYes));
            c.set("two_trainings_a", summary(pairA));
            c.set("two_trainings_b", summary(pairB));
            BenchSuite.target(c, "beside_yes_over_quiet", quiet.medianStepSeconds() / besideYes.medianStepSeconds(), ">=", 0.4);
            double each = Math.min(quiet.medianStepSeconds() / pairA.medianStepSeconds(), quiet.medianStepSeconds() / pairB.medianStepSeconds());
            BenchSuite.target(c, "two_trainings_each_over_quiet", each, ">=", 0.4);
            log.accept(String.format(Locale.ROOT, "bench: contention (%s): quiet %,.0f tokens/s; beside yes %.2fx; two trainings %.2fx and %.2fx",
                    t, quiet.tokensPerS(), quiet.medianStepSeconds() / besideYes.medianStepSeconds(), quiet.medianStepSeconds() / pairA.medianStepSeconds(),
                    quiet.medianStepSeconds() / pairB.medianStepSeconds()));
        }
        ObjectNode all = (ObjectNode) root.get("threads_all"), one = (ObjectNode) root.get("threads_1");
        root.put("quiet_threads_1_over_all", all.path("quiet").path("median_step_seconds").asDouble() / one.path("quiet").path("median_step_seconds").asDouble());
        return root;
    }

    /** {@code yes > /dev/null}: one CPU-bound competitor, as a user's other work would be. */
    private static Process startYes() {
        try {
            return new ProcessBuilder("yes").redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the competing process 'yes': " + e.getMessage(), e);
        }
    }

    /** One training run: {@code model} is "test-data" (the demo's model and data) or a RandomLlama spec (random token rows). */
    private static TrainProbe.Result run(BenchSuite.Options o, String name, String model, int steps, List<String> extra, Consumer<String> log) {
        Path dir = o.work().resolve(name);
        List<String> opts = new ArrayList<>(List.of("out=" + dir, "adapter=oft", "quant=nf4", "device=" + o.device(), "steps=" + steps,
                "warmup=1", "progress=false", "save-every=0", "eval-fraction=0"));
        String random = null;
        if (model.equals("test-data")) {
            opts.addAll(List.of("model=" + TestData.model(), "data=" + TestData.shiftTrain(), "batch-size=16", "seq-len=128", "lr=4e-3"));
        } else {
            random = model;
            opts.addAll(List.of("batch-size=" + o.batchSize(), "seq-len=" + o.seqLen()));
        }
        if (extra.stream().noneMatch(e -> e.startsWith("threads="))) opts.add("threads=" + o.threads());
        if (extra.stream().noneMatch(e -> e.startsWith("dtype="))) opts.add("dtype=" + o.dtype());
        opts.addAll(extra);
        TrainProbe.writeSpec(dir, opts, random, Math.min(3, steps / 4));
        log.accept("bench: " + name + " (" + model + ", " + steps + " steps, " + String.join(" ", extra) + ")");
        TrainProbe.Result r = TrainProbe.runInChild(dir);
        log.accept(String.format(Locale.ROOT, "  %s: median step %.3f s (mean %.3f, best %.3f), %,.0f tokens/s, peak %s", name, r.medianStepSeconds(),
                r.stepSeconds(), r.bestStepSeconds(), r.tokensPerS(), Human.bytes(r.peakBytes())));
        return r;
    }

    private static ObjectNode summary(TrainProbe.Result r) {
        ObjectNode s = TrainProbe.JSON.createObjectNode();
        s.put("model", r.model()).put("dtype", r.dtype()).put("recompute", r.recompute()).put("threads", r.threads());
        s.put("median_step_seconds", r.medianStepSeconds()).put("mean_step_seconds", r.stepSeconds()).put("best_step_seconds", r.bestStepSeconds());
        s.put("tokens_per_s", r.tokensPerS()).put("cpu_seconds_per_step", r.cpuSecondsPerStep()).put("peak_bytes", r.peakBytes());
        s.put("rss_after_load_bytes", r.rssAfterLoadBytes()).put("final_loss", r.finalLoss()).put("timed_steps", r.timedSteps());
        ArrayNode steps = s.putArray("losses");
        r.losses().forEach(steps::add);
        return s;
    }
}
