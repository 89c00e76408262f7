package org.qoft4j.cli.bench;

import org.qoft4j.core.CpuThreads;
import org.qoft4j.core.ChildJvm;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.kernel.Kernels;
import org.qoft4j.quant.linear.QuantizedLinear;
import org.qoft4j.core.AtomicFiles;
import org.qoft4j.core.memory.CudaMemory;
import org.qoft4j.core.memory.ResidentMemory;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.model.RandomLlama;
import org.qoft4j.model.RandomWeights;
import org.qoft4j.trainer.DataParallelMetrics;
import org.qoft4j.trainer.Finetune;
import org.qoft4j.trainer.dist.DistEnv;
import org.qoft4j.trainer.SkillEvals;
import org.qoft4j.trainer.StepMetrics;
import org.qoft4j.trainer.TrainConfig;
import org.qoft4j.trainer.TrainConfigIO;
import org.qoft4j.trainer.TrainSummary;
import org.qoft4j.trainer.Trainer;
import org.qoft4j.cli.charts.LossCurve;

/**
 * One measured training run: the real {@link Trainer} loop (recomputation or plain autograd, AdamW, clipping,
 * metrics, checkpoint and adapter at the end) on a model directory or a random-weight model
 * ({@link RandomLlama}), with optional skill evaluations before and after. What {@code ./qoft4j compare} runs per
 * adapter and {@code ./qoft4j bench} per configuration, each in its own JVM ({@link ChildJvm}) because peak
 * memory belongs to a process.
 *
 * <p>Peaks are reset once the model and adapters are loaded (and the "before" evaluations done), so they cover
 * training: resident high-water mark (VmHWM, JVM + libtorch + model) on the CPU, the CUDA allocator's peak on a
 * GPU. The first {@code untimedSteps} steps are not timed (allocator and JIT warm-up).
 *
 * <p>Data-parallel: started by {@code org.qoft4j.trainer.dist.Launcher} (or any launcher of the torchrun contract) each
 * worker runs the spec as one rank ({@code Finetune} joins the group); rank 0 alone writes or prints the result, whose
 * tokens/s are global and which adds the data-parallel figures.
 *
 * <p>Command line: {@code TrainProbe SPEC.json} (a {@link Spec}; writes {@code spec.resultFile}) or
 * {@code TrainProbe [random-model=SPEC] [untimed-steps=N] KEY=VALUE...} (training options; prints the result as
 * one JSON line; without {@code data=}, random token rows are the data).
 */
public final class TrainProbe {
    public static final ObjectMapper JSON = new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .setSerializationInclusion(JsonInclude.Include.NON_NULL).configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    /**
     * What to run.
     *
     * @param overrides       training options as {@code key=value} (see {@link TrainConfig}); {@code model=} is only
     *                        recorded when {@code randomModel} is given; without {@code data=} the run trains on
     *                        random token rows (ids below the model's vocabulary size)
     * @param randomModel     a {@link RandomLlama} spec, or null to load {@code model=}
     * @param skills          skill name -> chat JSONL measured before and after training (needs a tokenizer)
     * @param maxEvalExamples exact-match examples per skill
     * @param untimedSteps    leading steps left out of the step time
     * @param resultFile      where the {@link Result} goes (JSON), or null to print it
     */
    public record Spec(List<String> overrides, String randomModel, Map<String, String> skills, int maxEvalExamples, int untimedSteps,
                       String resultFile) {
        public Spec {
            overrides = List.copyOf(overrides);
            skills = skills == null ? Map.of() : new LinkedHashMap<>(skills);
        }
    }

    /**
     * What one run measured. Bytes are -1 where unknown; {@code cudaPeakBytes}, {@code mfu} and
     * {@code maxOrthogonalityError} are null where they do not apply.
     *
     * @param stepSeconds     mean wall time of the timed steps
     * @param bestStepSeconds the fastest timed step (the least disturbed on a shared machine)
     * @param tokensPerS      input tokens per second over the timed steps
     * @param evalLoss        loss on the run's eval split at the end, or null without one
     * @param losses          training loss of every step
     * @param peakBytes       the run's memory figure: CUDA allocator peak on a GPU, else the resident peak
     * @param worldSize       processes of a data-parallel run (null for one)
     * @param rankPeakBytes   each rank's memory figure at the end (data-parallel only)
     * @param allReduceBytes  adapter-gradient bytes all-reduced per step (data-parallel only)
     * @param allReduceWaitSeconds mean time per timed step that rank 0 waited for the gradient all-reduce after its
     *                        backward: the communication the overlap did not hide (data-parallel only)
     * @param layersOverlapped layers whose all-reduce was launched during the backward, per step (data-parallel only)
     * @param medianStepSeconds the median timed step
     * @param cpuSecondsPerStep CPU time of this process (all its threads) per timed step: unlike wall time, it does not
     *                        grow when other processes share the cores (rank 0's in a data-parallel run)
     */
    public record Result(String adapter, String quant, String device, String dtype, boolean recompute, String model, String dequantizer,
                         int threads, int seqLen, int batchSize, int steps, int timedSteps, long trainableParameters, long adapterBytes,
                         long weightBytes, long rssAfterLoadBytes, long peakRssBytes, boolean peakResetAfterLoad, Long cudaPeakBytes,
                         long peakBytes, double stepSeconds, double bestStepSeconds, double tokensPerS, double finalLoss, Double evalLoss, List<Double> losses,
                         Double maxOrthogonalityError, Double mfu, List<SkillEvals.Score> before, List<SkillEvals.Score> after,
                         double wallSeconds, Integer worldSize, List<Long> rankPeakBytes, Long allReduceBytes, Double allReduceWaitSeconds,
                         Long layersOverlapped, double cpuSecondsPerStep, double medianStepSeconds) {}

    private TrainProbe() {}

    public static void main(String[] args) throws IOException {
        Spec spec;
        if (args.length == 1 && args[0].endsWith(".json")) {
            spec = JSON.readValue(Path.of(args[0]).toFile(), Spec.class);
        } else {
            List<String> overrides = new ArrayList<>();
            String random = null;
            int untimed = 2;
            for (String a : args) {
                if (a.startsWith("random-model=")) random = a.substring("random-model=".length());
                else if (a.startsWith("untimed-steps=")) untimed = Integer.parseInt(a.substring("untimed-steps=".length()));
                else overrides.add(a);
            }
            spec = new Spec(overrides, random, Map.of(), 0, untimed, null);
        }
        Result r;
        try {
            r = run(spec);
        } catch (RuntimeException e) { // bad input (a setting, the model, the data) is one line, as on the command line
            if (System.getenv("QOFT4J_DEBUG") != null) e.printStackTrace();
            System.err.println("error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            System.exit(2);
            return;
        } finally {
            QuantizedLinear.releaseWorkspace();
        }
        if (!DistEnv.fromEnvironment(System.getenv()).map(DistEnv::master).orElse(true)) return;  // rank 0 reports for all
        if (spec.resultFile() == null) System.out.println(JSON.writeValueAsString(r));
        else AtomicFiles.write(Path.of(spec.resultFile()), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(r));
    }

    /** Runs {@code spec} in this JVM (its peaks then include whatever this JVM did before). */
    public static Result run(Spec spec) throws IOException {
        List<String> overrides = new ArrayList<>(spec.overrides());
        LlamaConfig shape = spec.randomModel() == null ? null : RandomLlama.parse(spec.randomModel());
        if (shape != null && overrides.stream().noneMatch(o -> o.startsWith("model="))) overrides.add(0, "model=random-llama(" + spec.randomModel() + ")");
        if (overrides.stream().noneMatch(o -> o.startsWith("data="))) {
            TrainConfig pre = TrainConfigIO.resolve(TrainConfig.defaults(), List.of(TrainConfigIO.fromOverrides(withDummyData(overrides))));
            int vocab = shape != null ? shape.vocabSize() : LlamaConfig.read(pre.modelDir()).vocabSize();
            Files.createDirectories(pre.outDir());
            int world = DistEnv.fromEnvironment(System.getenv()).map(DistEnv::worldSize).orElse(1);  // every rank writes the same rows
            int rows = Math.max(64, world * pre.batchSize() * pre.gradAccum() * Math.max(pre.steps(), 1));
            overrides.add("data=" + RandomTokens.write(pre.outDir().resolve("random-tokens.jsonl"), rows, pre.seqLen(), vocab, pre.seed()));
            overrides.add("eval-fraction=0");
        }
        TrainConfig c = TrainConfigIO.resolve(TrainConfig.defaults(), List.of(TrainConfigIO.fromOverrides(overrides)));
        c.device().requireAvailable();
        CpuThreads.use(c.threads() > 0 ? c.threads() : Runtime.getRuntime().availableProcessors());
        long t0 = System.nanoTime();
        List<StepMetrics> steps = new ArrayList<>();
        try (PointerScope scope = new PointerScope();
             LlamaModel model = shape == null ? null : ModelLoader.build(shape, new RandomWeights(shape, c.seed()), c.loadOptions());
             Finetune job = model == null ? Finetune.open(c) : Finetune.open(c, model, null)) {
            SkillEvals skills = skillEvals(spec);
            if (!skills.isEmpty() && job.tokenizer() == null)
                throw new IllegalArgumentException("skill evaluations " + spec.skills().keySet() + " need a tokenizer; " + c.model() + " has none");
            List<SkillEvals.Score> before = skills.isEmpty() ? List.of() : skills.measure(job);
            System.gc();
            long loaded = ResidentMemory.currentBytes();
            boolean reset = ResidentMemory.peakResettable();
            if (reset) ResidentMemory.resetPeak();
            if (c.device().isCuda()) CudaMemory.resetPeak(job.model().device());
            long cpuAtStart = processCpuNanos();
            List<Long> cpuAfterStep = new ArrayList<>();  // this process's CPU time (all threads) after each step
            job.trainer().onStep(m -> {
                steps.add(m);
                cpuAfterStep.add(processCpuNanos());
            }).addListener(LossCurve.listener(c));
            TrainSummary s = job.train();
            long peakRss = ResidentMemory.peakBytes();
            Long cudaPeak = c.device().isCuda() ? CudaMemory.peakAllocatedBytes(job.model().device()) : null;
            List<SkillEvals.Score> after = skills.isEmpty() ? List.of() : skills.measure(job);
            StepStats st = StepStats.of(steps, spec.untimedSteps());
            List<Double> losses = steps.stream().map(StepMetrics::loss).toList();
            StepMetrics last = steps.get(steps.size() - 1);
            DataParallelMetrics dp = last.dataParallel();
            int first = steps.size() > spec.untimedSteps() ? spec.untimedSteps() : 0;  // the timed steps, as StepStats counts them
            double cpuPerStep = (cpuAfterStep.get(steps.size() - 1) - (first == 0 ? cpuAtStart : cpuAfterStep.get(first - 1))) / 1e9 / (steps.size() - first);
            List<StepMetrics> timed = steps.subList(first, steps.size());
            Double wait = dp == null ? null : timed.stream().mapToDouble(m -> m.dataParallel().allReduceWaitSeconds()).average().orElse(0);
            String modelName = shape != null ? RandomLlama.describe(shape) : c.model();
            return new Result(c.adapter().key(), c.quant().key(), c.device().name(), c.dtype().on(c.device()) == ScalarType.BFloat16 ? "bf16" : "fp32", c.recompute(), modelName, Kernels.dequantizer().name(),
                    torch.get_num_threads(), c.seqLen(), c.batchSize(), steps.size(), st.timedSteps(), s.trainableParameters(), s.adapterBytes(),
                    job.model().weightBytes(), loaded, peakRss, reset, cudaPeak, cudaPeak != null ? cudaPeak : peakRss, st.meanSeconds(),
                    st.bestSeconds(), st.tokensPerS(), s.finalLoss(), s.evalLoss(), losses, last.maxOrthogonalityError(), s.mfu(), before, after,
                    (System.nanoTime() - t0) / 1e9, dp == null ? null : dp.worldSize(), dp == null ? null : dp.rankPeakBytes(),
                    dp == null ? null : dp.allReduceBytes(), wait, dp == null ? null : dp.layersOverlapped(), cpuPerStep, st.medianSeconds());
        }
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static SkillEvals skillEvals(Spec spec) {
        Map<String, Path> files = new LinkedHashMap<>();
        spec.skills().forEach((k, v) -> files.put(k, Path.of(v)));
        return new SkillEvals(files, spec.maxEvalExamples(), 16);
    }

    /** The overrides with a placeholder data file, to read the other settings before the random data exists. */
    private static List<String> withDummyData(List<String> overrides) {
        List<String> o = new ArrayList<>(overrides);
        o.add("data=(random tokens)");
        return o;
    }

    /**
     * Writes {@code DIR/probe.json}: a run of {@code overrides} (on {@code randomModel}, or null for {@code model=})
     * whose result goes to {@code DIR/result.json}. Creates DIR; returns the spec file.
     */
    public static Path writeSpec(Path dir, List<String> overrides, String randomModel, int untimedSteps) {
        Path spec = dir.resolve("probe.json");
        try {
            Files.createDirectories(dir);
            JSON.writeValue(spec.toFile(), new Spec(overrides, randomModel, null, 0, untimedSteps, dir.resolve("result.json").toString()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + spec + ": " + e.getMessage(), e);
        }
        return spec;
    }

    /** Runs {@code DIR/probe.json} ({@link #writeSpec}) in its own JVM, its output in {@code DIR/run.log}, and reads the result. */
    public static Result runInChild(Path dir) {
        ChildJvm.run(TrainProbe.class, List.of(dir.resolve("probe.json").toString()), dir.resolve("run.log"), null);
        return read(dir.resolve("result.json"));
    }

    /** Reads a result written by a child run. */
    public static Result read(Path file) {
        try {
            return JSON.readValue(file.toFile(), Result.class);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the run result " + file + ": " + e.getMessage(), e);
        }
    }
}
