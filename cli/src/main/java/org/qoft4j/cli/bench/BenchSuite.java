package org.qoft4j.cli.bench;

import org.qoft4j.core.CpuThreads;
import org.qoft4j.core.ChildJvm;
import org.qoft4j.core.DeviceSpec;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.kernel.Kernels;
import org.qoft4j.quant.linear.QuantizedLinear;
import org.qoft4j.core.Human;
import org.qoft4j.trainer.Finetune;

/**
 * {@code ./qoft4j bench}: the project's headline ratios, each measured side by side in one run, as JSON.
 * <ul>
 *   <li>{@code oft-v1-vs-v2}: training step time and peak memory of OFT v1 against OFTv2 (full-precision base,
 *       b = 32); target v1 ≥ 5× slower and ≥ 2× the peak memory</li>
 *   <li>{@code qoft-vs-qlora}: QOFT against QLoRA on an NF4 base; target QOFT step time ≤ 1.05× and peak ≤ 1×</li>
 *   <li>{@code 4bit-vs-full}: QOFT against OFTv2 on the full-precision base; target QOFT peak ≤ 0.5× on a model whose
 *       weights dominate memory</li>
 *   <li>{@code dequant}: NF4 dequantization (the kernel training uses, and the reference) against a memory copy of
 *       the same output size</li>
 *   <li>{@code data-parallel} (asked for by name; not in the default set): 2 processes against 1 at the same global
 *       batch, one thread each, and how much of the gradient all-reduce the overlap hides ({@link DataParallelBench})</li>
 *   <li>{@code recompute}, {@code bf16}, {@code contention} (by name): recomputation against none, bf16 against fp32
 *       on the CPU, and throughput beside other processes ({@link StepEfficiencyBench})</li>
 * </ul>
 * The QOFT, QLoRA and full-precision runs recompute every layer but the top one ({@code memory-budget: lean}), so that
 * peaks compare the configurations at their most memory-saving setting ({@code auto} keeps every graph where memory
 * is free, and its peak is then plain autograd's); OFT v1 and v2 run at {@code auto}, the speed setting, since that
 * case is about the adapters' step time.
 * Step-time ratios are given twice: over the mean of the timed steps and over the fastest step of each run (on a
 * shared machine the fastest step is the least disturbed one).
 * Every training configuration (model, adapter, base) runs once, shared by the cases that use it, with the real trainer in its own JVM ({@link TrainProbe} via {@link ChildJvm});
 * peak memory is the resident high-water mark on the CPU and the CUDA allocator's peak on a GPU.
 */
public final class BenchSuite {
    private static final String LEAN = "lean", SPEED = "auto";
    public static final List<String> CASES = List.of("oft-v1-vs-v2", "qoft-vs-qlora", "4bit-vs-full", "dequant", "data-parallel", "recompute", "bf16", "contention");
    /** What {@code ./qoft4j bench} runs unless told otherwise. */
    public static final List<String> DEFAULT_CASES = List.of("oft-v1-vs-v2", "qoft-vs-qlora", "4bit-vs-full", "dequant");

    /**
     * @param model        the model of the QOFT / QLoRA / full-precision cases: a {@code RandomLlama} spec, or a
     *                     Hugging Face model directory (trained on random token rows all the same)
     * @param v1Model      the model of the OFT v1 vs v2 case, the same way (v1 costs far more: a smaller model on a CPU)
     * @param seqLen       tokens per row
     * @param batchSize    rows per step
     * @param steps        steps per configuration, the first {@code untimedSteps} not timed
     * @param threads      CPU threads per run (0 = all cores)
     * @param dequantSize  the dequantized matrix is {@code dequantSize²}
     * @param work         directory for the runs' files
     * @param dataParallelModel the model of the data-parallel case (a RandomLlama spec or a directory)
     * @param repeats      how many times the data-parallel and recompute cases run their three configurations, interleaved
     */
    public record Options(String device, String dtype, String model, String v1Model, int seqLen, int batchSize, int steps, int untimedSteps,
                          int threads, List<String> cases, int dequantSize, Path work, String dataParallelModel, int repeats) {
        public Options {
            cases = List.copyOf(cases);
            for (String c : cases)
                if (!CASES.contains(c)) throw new IllegalArgumentException("unknown bench case '" + c + "', expected some of " + CASES);
        }

        public boolean cuda() {
            return device.toLowerCase(Locale.ROOT).startsWith("cuda");
        }

        /**
         * CPU defaults: the {@code bench} model (2048-wide layers, 8 of them, vocabulary 8192: weights dominate
         * memory), OFT v1 vs v2 on 2 of its layers, 512 tokens, 3 steps (1 untimed), fp32. CUDA: the {@code 1b}
         * model for every case, 1024 tokens, bf16, 4 steps.
         */
        public static Options defaults(String device, Path work) {
            boolean cuda = device.toLowerCase(Locale.ROOT).startsWith("cuda");
            return cuda ? new Options(device, "bf16", "1b", "1b", 1024, 1, 4, 1, 0, DEFAULT_CASES, 8192, work, "1b", 2)
                    : new Options(device, "fp32", "bench", "bench,layers=2", 512, 1, 3, 1, 0, DEFAULT_CASES, 2048, work, "d1024", 2);
        }
    }

    private BenchSuite() {}

    public static ObjectNode run(Options o, Consumer<String> log) {
        DeviceSpec.parse(o.device()).requireAvailable();
        ObjectNode root = TrainProbe.JSON.createObjectNode();
        root.set("machine", TrainProbe.JSON.valueToTree(Machine.here(o.cuda())));
        ObjectNode opts = TrainProbe.JSON.valueToTree(o);
        opts.put("work", o.work().toString());
        root.set("options", opts);
        Runs runs = new Runs(o, log);
        if (o.cases().contains("oft-v1-vs-v2")) {
            TrainProbe.Result v2 = runs.get("oftv2", o.v1Model(), "oft", "none", SPEED), v1 = runs.get("oftv1", o.v1Model(), "oft-v1", "none", SPEED);
            ObjectNode c = pair(root, "oft_v1_vs_v2", "oftv2", v2, "oftv1", v1);
            target(c, "v1_step_time_over_v2", v1.stepSeconds() / v2.stepSeconds(), ">=", 5);
            target(c, "v1_fastest_step_over_v2", v1.bestStepSeconds() / v2.bestStepSeconds(), ">=", 5);
            target(c, "v1_peak_memory_over_v2", (double) v1.peakBytes() / v2.peakBytes(), ">=", 2);
            c.put("v1_training_memory_over_v2", (double) (v1.peakBytes() - baseline(v1)) / (v2.peakBytes() - baseline(v2)));
        }
        if (o.cases().contains("qoft-vs-qlora")) {
            TrainProbe.Result qoft = runs.get("qoft", o.model(), "oft", "nf4", LEAN), qlora = runs.get("qlora", o.model(), "lora", "nf4", LEAN);
            ObjectNode c = pair(root, "qoft_vs_qlora", "qoft", qoft, "qlora", qlora);
            target(c, "qoft_step_time_over_qlora", qoft.stepSeconds() / qlora.stepSeconds(), "<=", 1.05);
            target(c, "qoft_fastest_step_over_qlora", qoft.bestStepSeconds() / qlora.bestStepSeconds(), "<=", 1.05);
            target(c, "qoft_peak_memory_over_qlora", (double) qoft.peakBytes() / qlora.peakBytes(), "<=", 1.0);
        }
        if (o.cases().contains("4bit-vs-full")) {
            TrainProbe.Result qoft = runs.get("qoft", o.model(), "oft", "nf4", LEAN), full = runs.get("oft-full", o.model(), "oft", "none", LEAN);
            ObjectNode c = pair(root, "qoft_vs_full_precision_oft", "qoft", qoft, "oft_full_precision", full);
            target(c, "qoft_peak_memory_over_full", (double) qoft.peakBytes() / full.peakBytes(), "<=", 0.5);
            c.put("qoft_step_time_over_full", qoft.stepSeconds() / full.stepSeconds());
            c.put("qoft_weight_bytes_over_full", (double) qoft.weightBytes() / full.weightBytes());
        }
        if (o.cases().contains("dequant")) root.set("dequant", dequant(o, log));
        if (o.cases().contains("data-parallel")) root.set("data_parallel", DataParallelBench.run(o, o.dataParallelModel(), o.repeats(), log));
        if (o.cases().contains("recompute")) root.set("recompute", StepEfficiencyBench.recompute(o, log));
        if (o.cases().contains("bf16")) root.set("bf16_vs_fp32", StepEfficiencyBench.bf16(o, log));
        if (o.cases().contains("contention")) root.set("contention", StepEfficiencyBench.contention(o, log));
        return root;
    }

    /** Memory the run had before training (the loaded model): resident size on the CPU; 0 on CUDA, whose peak counts tensors only. */
    private static long baseline(TrainProbe.Result r) {
        return r.cudaPeakBytes() != null ? 0 : r.rssAfterLoadBytes();
    }

    /** The training runs of one bench: a configuration (model, adapter, base) shared by several cases runs once. */
    private record Runs(Options o, Consumer<String> log, Map<String, TrainProbe.Result> done) {
        Runs(Options o, Consumer<String> log) {
            this(o, log, new HashMap<>());
        }

        TrainProbe.Result get(String name, String model, String adapter, String quant, String budget) {
            return done.computeIfAbsent(model + "|" + adapter + "|" + quant + "|" + budget, k -> train(o, name, model, adapter, quant, budget, log));
        }
    }

    private static TrainProbe.Result train(Options o, String name, String model, String adapter, String quant, String budget, Consumer<String> log) {
        Path dir = o.work().resolve(name);
        List<String> opts = new ArrayList<>(List.of("out=" + dir, "adapter=" + adapter, "quant=" + quant, "device=" + o.device(),
                "dtype=" + o.dtype(), "steps=" + o.steps(), "batch-size=" + o.batchSize(), "seq-len=" + o.seqLen(), "warmup=1",
                "threads=" + o.threads(), "progress=false", "memory-budget=" + budget));
        // a directory with a config.json; anything else is a RandomLlama spec (the repository has a "bench" folder too)
        boolean modelDir = Files.isRegularFile(Path.of(model).resolve("config.json"));
        if (modelDir) opts.add("model=" + model);
        TrainProbe.writeSpec(dir, opts, modelDir ? null : model, o.untimedSteps());
        log.accept("bench: " + name + " (" + adapter + ", base " + quant + ", " + model + ", " + o.batchSize() + " x " + o.seqLen() + " tokens, "
                + o.steps() + " steps)");
        TrainProbe.Result r = TrainProbe.runInChild(dir);
        log.accept(String.format(Locale.ROOT, "  %s: %.3f s/step (best %.3f), %,.0f tokens/s, peak %s (after load %s)", name, r.stepSeconds(),
                r.bestStepSeconds(), r.tokensPerS(), Human.bytes(r.peakBytes()), Human.bytes(r.rssAfterLoadBytes())));
        return r;
    }

    private static ObjectNode pair(ObjectNode root, String name, String aName, TrainProbe.Result a, String bName, TrainProbe.Result b) {
        ObjectNode c = root.putObject(name);
        c.put("model", a.model());
        c.set(aName, TrainProbe.JSON.valueToTree(a));
        c.set(bName, TrainProbe.JSON.valueToTree(b));
        return c;
    }

    /** Records a measured ratio with its target ({@code ">="} or {@code "<="} {@code bound}) and whether it was met. */
    static void target(ObjectNode c, String name, double measured, String op, double bound) {
        boolean met = op.equals(">=") ? measured >= bound : measured <= bound;
        c.putObject(name).put("measured", measured).put("target", op + " " + bound).put("met", met);
    }

    /** NF4 (blocksize 64) {@code n x n}: the training kernel and the reference into fp32 / bf16, and an fp32 copy, in this JVM. */
    private static ObjectNode dequant(Options o, Consumer<String> log) {
        CpuThreads.use(o.threads() > 0 ? o.threads() : Runtime.getRuntime().availableProcessors());
        long n = o.dequantSize();
        ObjectNode d = TrainProbe.JSON.createObjectNode();
        d.put("shape", n + "x" + n).put("quant", "nf4, blocksize 64").put("kernel", Kernels.dequantizer().name());
        try (DequantFixture f = new DequantFixture(n, n, QuantSpec.nf4(), new Device(o.device()))) {
            OpTimer.Samples copy = OpTimer.sample(f::copyFp32, o.cuda(), 3, 10, 1.0);
            d.set("copy_fp32", timing(copy, 8.0 * f.elements()));
            for (ScalarType dt : List.of(ScalarType.Float, ScalarType.BFloat16)) {
                String suffix = dt == ScalarType.Float ? "fp32" : "bf16";
                long written = (dt == ScalarType.Float ? 4L : 2L) * f.elements();
                long moved = written + f.weight().storageBytes();
                OpTimer.Samples best = OpTimer.sample(() -> f.best(dt), o.cuda(), 3, 10, 1.0);
                OpTimer.Samples ref = OpTimer.sample(() -> f.reference(dt), o.cuda(), 2, 5, 1.0);
                ObjectNode b = timing(best, moved);
                b.put("time_over_copy_fp32", best.median() / copy.median());
                b.put("bandwidth_over_copy", (moved / best.median()) / (8.0 * f.elements() / copy.median()));
                d.set("kernel_to_" + suffix, b);
                ObjectNode r = timing(ref, moved);
                r.put("time_over_copy_fp32", ref.median() / copy.median());
                d.set("reference_to_" + suffix, r);
                d.put("kernel_speedup_over_reference_" + suffix, ref.median() / best.median());
            }
        } finally {
            QuantizedLinear.releaseWorkspace();
        }
        log.accept(String.format(Locale.ROOT, "bench: dequant %s: kernel -> fp32 %.3f ms (%.2f× a copy), reference %.3f ms; copy %.3f ms",
                d.get("shape").asText(), 1e3 * d.path("kernel_to_fp32").path("median_s").asDouble(),
                d.path("kernel_to_fp32").path("time_over_copy_fp32").asDouble(), 1e3 * d.path("reference_to_fp32").path("median_s").asDouble(),
                1e3 * d.path("copy_fp32").path("median_s").asDouble()));
        return d;
    }

    private static ObjectNode timing(OpTimer.Samples s, double bytes) {
        ObjectNode t = TrainProbe.JSON.createObjectNode();
        t.put("best_s", s.best()).put("median_s", s.median()).put("calls", s.calls());
        t.put("gb_per_s_median", bytes / s.median() / 1e9).put("bytes_moved", (long) bytes);
        return t;
    }
}
