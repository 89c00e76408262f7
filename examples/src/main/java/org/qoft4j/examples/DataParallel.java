package org.qoft4j.examples;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.qoft4j.data.TestData;
import org.qoft4j.core.Human;
import org.qoft4j.trainer.Finetune;
import org.qoft4j.trainer.MetricsLog;
import org.qoft4j.trainer.TrainConfig;
import org.qoft4j.trainer.TrainSummary;
import org.qoft4j.trainer.dist.LaunchPlan;
import org.qoft4j.trainer.dist.Launcher;

/**
 * DataParallel: one finetuning run in two processes, from Java.
 *
 * <p>Two cells. The launcher (this main, without arguments) starts two worker JVMs with {@link Launcher}, as
 * {@code ./qoft4j finetune --nproc-per-node 2} does: each gets the torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK,
 * MASTER_ADDR, MASTER_PORT, ...) and half of the cores. Each worker (this main with {@code worker}) calls
 * {@link Finetune#open}, which sees that environment and joins the run: rank k trains on the k-th half of every global
 * batch, the adapter gradients are summed over both after each layer's backward, and rank 0 alone writes the adapter,
 * checkpoints and metrics. The test-data model learns its "shift" skill as in Quickstart: 8 rows per process = the
 * demo's 16 per step.
 *
 * <p>Run: {@code examples/run DataParallel [STEPS] [OUT]} (defaults: 60 steps, about a minute on 2 cores;
 * {@code runs/data-parallel-TIMESTAMP}); the workers' output is in {@code OUT/logs/rank-K.log}.
 */
public final class DataParallel {
    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("worker")) {
            worker(Integer.parseInt(args[1]), Path.of(args[2]));
            return;
        }
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        Path out = Path.of(args.length > 1 ? args[1] : "runs/data-parallel-" + System.currentTimeMillis()).toAbsolutePath();

        // 1. Launch: 2 workers on this machine, rendezvous on 127.0.0.1 at a free port, rank 0's output shown here.
        Launcher launcher = new Launcher(LaunchPlan.standalone(2), out.resolve("logs"), 0, Duration.ofSeconds(10), List.of(),
                line -> System.out.println("[rank 0] " + line));
        launcher.run(DataParallel.class.getName(), List.of("worker", Integer.toString(steps), out.toString()));

        // 2. One run's files, written by rank 0; each step's line has the data-parallel figures.
        List<JsonNode> lines = MetricsLog.read(out.resolve(MetricsLog.FILE));
        JsonNode last = lines.stream().filter(n -> n.get("kind").asText().equals("train")).reduce((a, b) -> b).orElseThrow();
        JsonNode dp = last.get("data_parallel");
        System.out.printf(Locale.ROOT, "%d processes; last step: loss %.4f, %,.0f tokens/s over both, %s of adapter gradients all-reduced, "
                        + "%.1f ms waited for them; peak memory per rank %s, %s%n", dp.get("world_size").asInt(), last.get("loss").asDouble(),
                last.get("tokens_per_s").asDouble(), Human.bytes(dp.get("all_reduce_bytes").asLong()), 1e3 * dp.get("all_reduce_wait_seconds").asDouble(),
                Human.bytes(dp.get("rank_peak_bytes").get(0).asLong()), Human.bytes(dp.get("rank_peak_bytes").get(1).asLong()));
        System.out.println("adapter: " + out.resolve("adapter") + "; logs: " + out.resolve("logs"));
    }

    /** One rank: the same code as a single-process run; Finetune.open joins the group from the environment. */
    static void worker(int steps, Path out) {
        TrainConfig config = TrainConfig.defaults().with("model=" + TestData.model(), "data=" + TestData.shiftTrain(), "eval-fraction=0",
                "out=" + out, "adapter=oft", "quant=nf4", "steps=" + steps, "batch-size=8", "seq-len=128", "lr=4e-3", "warmup=" + Math.min(5, steps - 1),
                "save-every=" + Math.max(1, steps / 2), "progress=false");
        try (Finetune job = Finetune.open(config)) {
            TrainSummary summary = job.train();
            if (job.rank() == 0) {
                System.out.println(summary.format());
                System.out.println("after training: shift hello -> " + Chat.ask(job.model(), job.tokenizer(), "shift hello"));
            }
        }
        System.exit(0);  // as ./qoft4j does: rank 0 serves the rendezvous store until its process ends (docs/notes-c10d.md)
    }
}
