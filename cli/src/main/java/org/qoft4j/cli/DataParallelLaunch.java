package org.qoft4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.qoft4j.trainer.Checkpointer;
import org.qoft4j.trainer.TrainConfig;
import org.qoft4j.trainer.dist.LaunchPlan;
import org.qoft4j.trainer.dist.Launcher;

/**
 * {@code ./qoft4j finetune --nproc-per-node N [--nnodes M --node-rank K --master-addr HOST --master-port PORT] ...}:
 * this machine's share of a data-parallel run, like torchrun. Starts N workers (child JVMs running the same
 * {@code finetune} command without the launch flags, each with the torchrun environment contract and its share of the
 * cores), passes rank 0's output to the console, keeps each rank's in {@code OUT/logs/rank-K.log}, and waits. When a
 * worker fails, the others are stopped and the error names the rank, its last lines and the last good checkpoint.
 */
final class DataParallelLaunch {
    /** The launch flags: they describe the processes, not the run, and are not passed to the workers. */
    static final Set<String> FLAGS = Set.of("--nproc-per-node", "--nnodes", "--node-rank", "--master-addr", "--master-port");

    private DataParallelLaunch() {}

    /**
     * Runs the workers of {@code plan} on this machine and waits for them.
     *
     * @param finetuneArgs the command's own arguments (launch flags are removed here)
     * @param config       the run's settings as this machine resolves them (for OUT and the resume hint)
     */
    static void run(LaunchPlan plan, List<String> finetuneArgs, TrainConfig config, PrintWriter console) {
        List<String> args = new ArrayList<>();
        args.add("finetune");
        args.addAll(withoutLaunchFlags(finetuneArgs));
        Path logs = config.outDir().resolve("logs");
        console.println("qoft4j: " + plan.nprocPerNode() + " worker(s) on this machine" + (plan.nnodes() > 1 ? " (node " + plan.nodeRank()
                + " of " + plan.nnodes() + ", " + plan.worldSize() + " in all)" : "") + "; logs: " + logs + "/rank-K.log");
        console.flush();
        Launcher launcher = new Launcher(plan, logs, 0, Duration.ofSeconds(10), List.of(), line -> {
            console.println(line);
            console.flush();
        });
        try {
            launcher.run(Qoft4jCommand.class.getName(), args);
        } catch (Launcher.WorkerFailedException e) {
            throw new IllegalStateException(e.getMessage() + "\n" + resumeHint(config, plan), e);
        }
    }

    /** {@code args} without the launch flags and their values ({@code --flag value} and {@code --flag=value}). */
    static List<String> withoutLaunchFlags(List<String> args) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            int eq = a.indexOf('=');
            if (FLAGS.contains(a)) i++;  // and its value
            else if (!(eq > 0 && a.startsWith("--") && FLAGS.contains(a.substring(0, eq)))) out.add(a);
        }
        return out;
    }

    /** Where to continue from after a failure: the newest complete checkpoint this machine sees in OUT. */
    static String resumeHint(TrainConfig c, LaunchPlan plan) {
        List<Path> done = Checkpointer.list(c.outDir().resolve("checkpoints"));
        if (done.isEmpty()) return "No checkpoint was saved before the failure" + (c.saveEvery() == 0 ? " (set --save-every N to keep some)" : "") + ".";
        return "The last good checkpoint is " + done.get(done.size() - 1) + "; continue with: ./qoft4j finetune --nproc-per-node " + plan.nprocPerNode()
                + (plan.nnodes() > 1 ? " --nnodes " + plan.nnodes() + " ..." : "") + " --resume " + c.out();
    }
}
