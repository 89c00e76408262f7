package org.qoft4j.cli.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.qoft4j.core.Human;
import org.qoft4j.trainer.dist.LaunchPlan;
import org.qoft4j.trainer.dist.Launcher;

/**
 * {@code ./qoft4j bench --cases data-parallel}: data-parallel scaling on one CPU machine. The same global batch
 * ({@code 2 x batch} rows of {@code seqLen} tokens per step) trained three ways, each the real trainer
 * ({@link TrainProbe}) in its own JVMs, every process with one thread:
 * <ul>
 *   <li>{@code single}: 1 process, batch {@code 2 x batch};</li>
 *   <li>{@code overlapped}: 2 processes ({@link Launcher}), batch {@code batch} each, each layer's gradient all-reduce
 *       launched as its backward ends (the default);</li>
 *   <li>{@code serial}: the same with {@code dist-overlap=false}: every all-reduce after the whole backward, so the time
 *       rank 0 waits for it is the whole communication (bucket copies included).</li>
 * </ul>
 * Reported: global tokens/s of each and the speed-up {@code overlapped / single} (target ≥ 1.8), bytes all-reduced
 * per step, the wait per step of {@code overlapped} and {@code serial}, and the share of the communication the
 * overlap hid, {@code 1 - wait(overlapped) / wait(serial)}. The trio runs {@code repeats} times, interleaved, so that a
 * shared machine's load disturbs all three alike; the medians are the headline.
 *
 * <p>On a machine that other work also loads, wall-clock speed-ups say more about the load than about the code (a
 * process's share of the cores changes from run to run), and a rank's wait for the all-reduce mostly measures how far
 * its peer lagged behind (was descheduled), not the communication. So the case also reports a projection from CPU
 * time, which other processes do not inflate: {@code cpu(single) / cpu(rank 0)} per step, the speed-up on an
 * otherwise idle machine where each process has its own core. On loopback the all-reduce's cost is CPU time too
 * (Gloo's reduction and the bucket copies in the process, the socket copies in the kernel, counted as the process's
 * system time), so the projection includes it; what it leaves out is pure waiting (latency), milliseconds here.
 */
final class DataParallelBench {
    private DataParallelBench() {}

    static ObjectNode run(BenchSuite.Options o, String model, int repeats, Consumer<String> log) {
        ObjectNode d = TrainProbe.JSON.createObjectNode();
        d.put("model", model).put("rows_per_step", 2 * o.batchSize()).put("seq_len", o.seqLen()).put("threads_per_process", 1);
        if (o.cuda()) {
            d.put("skipped", "the data-parallel case runs on the CPU here; on GPUs it needs one GPU per process (cuda:LOCAL_RANK)");
            return d;
        }
        int steps = Math.max(o.steps(), 4);
        ArrayNode runs = d.putArray("runs");
        List<Double> speedups = new ArrayList<>(), hidden = new ArrayList<>(), overlapWait = new ArrayList<>(), serialWait = new ArrayList<>(),
                projected = new ArrayList<>();
        long bytes = 0;
        for (int r = 0; r < repeats; r++) {
            TrainProbe.Result single = train(o, model, steps, "single-" + r, 1, 2 * o.batchSize(), true, log);
            TrainProbe.Result overlapped = train(o, model, steps, "overlapped-" + r, 2, o.batchSize(), true, log);
            TrainProbe.Result serial = train(o, model, steps, "serial-" + r, 2, o.batchSize(), false, log);
            double speedup = overlapped.tokensPerS() / single.tokensPerS();
            double hid = 1 - overlapped.allReduceWaitSeconds() / serial.allReduceWaitSeconds();
            double projection = single.cpuSecondsPerStep() / overlapped.cpuSecondsPerStep();
            speedups.add(speedup);
            projected.add(projection);
            hidden.add(hid);
            overlapWait.add(overlapped.allReduceWaitSeconds());
            serialWait.add(serial.allReduceWaitSeconds());
            bytes = overlapped.allReduceBytes();
            ObjectNode run = runs.addObject();
            run.set("single", TrainProbe.JSON.valueToTree(single));
            run.set("overlapped", TrainProbe.JSON.valueToTree(overlapped));
            run.set("serial", TrainProbe.JSON.valueToTree(serial));
            run.put("speedup_2_processes_over_1", speedup).put("serial_speedup_2_processes_over_1", serial.tokensPerS() / single.tokensPerS());
            run.put("all_reduce_hidden_by_overlap", hid).put("projected_speedup_from_cpu_time", projection);
            log.accept(String.format(Locale.ROOT, "  repeat %d: 1 process %,.1f tokens/s, 2 processes %,.1f (%.2fx; serial all-reduce %,.1f); "
                            + "CPU s/step %.2f vs %.2f (projected %.2fx); all-reduce %s/step, wait %.1f ms (serial %.1f ms): %.0f%% hidden", r + 1,
                    single.tokensPerS(), overlapped.tokensPerS(), speedup, serial.tokensPerS(), single.cpuSecondsPerStep(), overlapped.cpuSecondsPerStep(),
                    projection, Human.bytes(bytes), 1e3 * overlapped.allReduceWaitSeconds(), 1e3 * serial.allReduceWaitSeconds(), 100 * hid));
        }
        d.put("all_reduce_bytes_per_step", bytes);
        d.put("all_reduce_wait_s_per_step_overlapped_median", StepStats.median(overlapWait));
        d.put("all_reduce_wait_s_per_step_serial_median", StepStats.median(serialWait));
        d.put("all_reduce_hidden_by_overlap_median", StepStats.median(hidden));
        ObjectNode t = d.putObject("speedup_2_processes_over_1");
        t.put("median", StepStats.median(speedups)).put("min", speedups.stream().mapToDouble(x -> x).min().orElse(0))
                .put("max", speedups.stream().mapToDouble(x -> x).max().orElse(0)).put("target", ">= 1.8").put("met", StepStats.median(speedups) >= 1.8);
        ObjectNode p = d.putObject("projected_speedup_from_cpu_time");
        p.put("median", StepStats.median(projected)).put("min", projected.stream().mapToDouble(x -> x).min().orElse(0))
                .put("max", projected.stream().mapToDouble(x -> x).max().orElse(0)).put("target", ">= 1.8").put("met", StepStats.median(projected) >= 1.8);
        return d;
    }

    private static TrainProbe.Result train(BenchSuite.Options o, String model, int steps, String name, int processes, int batch, boolean overlap,
                                           Consumer<String> log) {
        Path dir = o.work().resolve("data-parallel").resolve(name);
        List<String> opts = new ArrayList<>(List.of("out=" + dir, "adapter=oft", "quant=nf4", "device=cpu", "dtype=" + o.dtype(), "steps=" + steps,
                "batch-size=" + batch, "seq-len=" + o.seqLen(), "warmup=1", "threads=1", "progress=false", "dist-overlap=" + overlap));
        boolean modelDir = Files.isRegularFile(Path.of(model).resolve("config.json"));
        if (modelDir) opts.add("model=" + model);
        Path spec = TrainProbe.writeSpec(dir, opts, modelDir ? null : model, o.untimedSteps());
        log.accept("bench: data-parallel " + name + " (" + processes + " process(es) x batch " + batch + " x " + o.seqLen() + " tokens, " + steps + " steps)");
        // the single process too through the launcher (a world of 1 forms no group): the same JVM options and environment,
        // one processor each (libtorch, the native kernels' pool and the JVM's own threads alike)
        new Launcher(LaunchPlan.standalone(processes), dir.resolve("logs"), 1, Duration.ofSeconds(10), List.of(), null)
                .run(TrainProbe.class.getName(), List.of(spec.toString()));
        return TrainProbe.read(dir.resolve("result.json"));
    }
}
