package org.qoft4j.cli;

import org.qoft4j.cli.charts.LossCurve;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.io.PrintWriter;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.qoft4j.trainer.Checkpointer;
import org.qoft4j.trainer.Finetune;
import org.qoft4j.trainer.Help;
import org.qoft4j.trainer.SkillEvals;
import org.qoft4j.trainer.TrainConfig;
import org.qoft4j.trainer.TrainConfigIO;
import org.qoft4j.trainer.TrainSummary;
import org.qoft4j.trainer.dist.DistEnv;
import org.qoft4j.trainer.dist.LaunchPlan;
import org.qoft4j.trainer.dist.WorkerMain;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code qoft4j finetune}: trains QOFT or QLoRA adapters. Settings come in layers, each over the previous: the
 * defaults (or, with {@code --resume}, the checkpoint's own settings), {@code --config FILE.yaml}, the flags, then
 * {@code key=value} arguments. Every {@link TrainConfig} option is a flag ({@code --batch-size}, booleans also as
 * {@code --no-...}), built from the record's components by {@link #commandSpec()}: an option is defined once.
 */
@Command(name = "finetune", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Finetune a (4-bit) Llama-family model with OFTv2 (QOFT) or LoRA (QLoRA) adapters.",
                "Writes OUT/adapter (PEFT files), OUT/checkpoints, OUT/metrics.jsonl and OUT/loss.png.",
                "Settings: defaults < --config FILE.yaml < flags < KEY=VALUE arguments (keys as the flags: lr=1e-4, batch-size=8).",
                "With no model named anywhere, finetunes the bundled test-data model (the demo).",
                "Data parallelism: --nproc-per-node N starts N workers on this machine (more machines: the same command on each,",
                "with --nnodes, --node-rank, --master-addr, --master-port), or run it under torchrun / srun (RANK, WORLD_SIZE, ...)."})
public final class FinetuneCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE.yaml", description = "YAML file of settings (keys as the flags)")
    Path config;

    @Option(names = "--skill-eval", paramLabel = "NAME=FILE", mapFallbackValue = "",
            description = {"exact-match accuracy and loss on a chat JSONL, before and after training (repeatable)"})
    Map<String, Path> skillEvals = new LinkedHashMap<>();
    @Option(names = "--skill-eval-examples", paramLabel = "N", description = "greedy answers per skill eval (default: ${DEFAULT-VALUE})")
    int skillEvalExamples = 50;

    // issue 11: launch flags (torchrun's names); they describe the processes, not the run, so they are not TrainConfig options
    @Option(names = "--nproc-per-node", paramLabel = "N",
            description = "data-parallel workers to start on this machine (CPU: the cores divided among them; CUDA: cuda:LOCAL_RANK each)")
    Integer nprocPerNode;
    @Option(names = "--nnodes", paramLabel = "N", description = "machines in the run; start the same command on each (default: 1)") Integer nnodes;
    @Option(names = "--node-rank", paramLabel = "K", description = "this machine's index, 0..nnodes-1; node 0 hosts the rendezvous (default: 0)")
    Integer nodeRank;
    @Option(names = "--master-addr", paramLabel = "HOST", description = "node 0's address, reachable from every machine (default: 127.0.0.1)")
    String masterAddr;
    @Option(names = "--master-port", paramLabel = "PORT", description = "node 0's rendezvous port (default on one machine: a free one)")
    Integer masterPort;

    @Parameters(paramLabel = "KEY=VALUE", description = "overrides, e.g. lr=1e-4 max-grad-norm=0.5 (the keys are the flag names)")
    List<String> overrides = new ArrayList<>();

    /** The command with one flag per {@link TrainConfig} option added to its annotated ones. */
    static CommandSpec commandSpec() {
        CommandSpec s = CommandSpec.forAnnotatedObject(new FinetuneCommand());
        TrainConfig defaults = TrainConfig.defaults();
        for (RecordComponent rc : TrainConfig.class.getRecordComponents()) {
            String key = key(rc);
            Help help = rc.getAnnotation(Help.class);
            Object def;
            try {
                def = rc.getAccessor().invoke(defaults);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
            String text = help == null ? key : help.value().replace("${DEFAULT}", show(def));
            OptionSpec.Builder b = OptionSpec.builder("--" + key).description(text).descriptionKey(key);
            if (rc.getType() == boolean.class) {
                b.type(Boolean.class).negatable(true).defaultValue(String.valueOf(def)).arity("0");
            } else {
                b.type(String.class).paramLabel(help != null && !help.label().isEmpty() ? help.label() : label(rc.getType()));
            }
            s.addOption(b.build());
        }
        return s;
    }

    @Override
    public Integer call() {
        boolean demo = isDemo();
        TrainConfig c = resolve(demo);
        Optional<DistEnv> env = DistEnv.fromEnvironment(System.getenv());
        if (launching()) {
            if (env.isPresent())
                throw new CommandLine.ParameterException(spec.commandLine(), "this process is already a worker of a data-parallel run (RANK="
                        + env.get().rank() + " is set): give no launch flags (--nproc-per-node, --nnodes, ...) to a worker");
            LaunchPlan plan = new LaunchPlan(nnodes != null ? nnodes : 1, nodeRank != null ? nodeRank : 0, nprocPerNode != null ? nprocPerNode : 1,
                    masterAddr, masterPort != null ? masterPort : 0);
            if (plan.worldSize() > 1) {
                List<String> all = spec.commandLine().getParseResult().originalArgs();  // the whole command line: "finetune" onward
                DataParallelLaunch.run(plan, all.subList(all.indexOf(spec.name()) + 1, all.size()), c, spec.commandLine().getOut());
                return 0;
            }
        }
        // a worker of another launcher (torchrun, srun) keeps its log where ours would
        if (env.isPresent() && env.get().distributed() && System.getenv(WorkerMain.WATCHDOG_ENV) == null)
            RankLog.teeInto(c.outDir().resolve("logs/rank-" + env.get().rank() + ".log"));
        boolean rank0 = env.map(DistEnv::master).orElse(true);  // rank 0 alone shows progress and results
        PrintWriter out = spec.commandLine().getOut();
        Map<String, Path> skills = new LinkedHashMap<>(demo ? DemoJob.skillEvals() : Map.of());
        skills.putAll(skillEvals);
        SkillEvals evals = new SkillEvals(skills, skillEvalExamples, 12);
        if (demo && rank0) out.println(DemoJob.banner(c));
        out.flush();
        try (Finetune job = Finetune.open(c)) {
            if (rank0) job.trainer().addListener(Progress.listener(c.progress())).addListener(LossCurve.listener(c));
            List<SkillEvals.Score> before = evals.isEmpty() || !rank0 ? List.of() : evals.measure(job);
            TrainSummary s = job.train();
            if (rank0) out.println(s.format());
            if (!evals.isEmpty() && rank0) out.print(SkillEvals.format(before, evals.measure(job)));
        }
        if (demo && rank0) out.println(DemoJob.nextSteps(c));
        out.flush();
        return 0;
    }

    private boolean launching() {
        return nprocPerNode != null || nnodes != null || nodeRank != null || masterAddr != null || masterPort != null;
    }

    /** No model named anywhere (flags, YAML, overrides, resume): run the bundled test-data demo. */
    private boolean isDemo() {
        Map<String, String> f = flags();
        return !f.containsKey("model") && config == null && !f.containsKey("resume") && overrides.stream().noneMatch(o -> o.startsWith("model="));
    }

    /** The settings these arguments describe. */
    TrainConfig resolve() {
        return resolve(isDemo());
    }

    private TrainConfig resolve(boolean demo) {
        Map<String, String> flags = flags();
        String resume = flags.get("resume");
        TrainConfig base = resume != null ? Checkpointer.config(Checkpointer.resolve(Path.of(resume))) : TrainConfig.defaults();
        List<TrainConfigIO.Layer> layers = new ArrayList<>();
        if (demo) layers.add(TrainConfigIO.fromValues(DemoJob.settings(), "the test-data demo's settings"));
        if (config != null) layers.add(TrainConfigIO.fromYaml(config));
        List<String> given = new ArrayList<>();
        flags.forEach((k, v) -> given.add(k + "=" + v));
        layers.add(TrainConfigIO.fromKeyValues(given, "command-line flags"));
        if (!overrides.isEmpty()) layers.add(TrainConfigIO.fromOverrides(overrides));
        return TrainConfigIO.resolve(base, layers);
    }

    /** The TrainConfig flags given on the command line, by option key, as text. */
    private Map<String, String> flags() {
        Map<String, String> f = new LinkedHashMap<>();
        for (OptionSpec o : spec.options()) {
            String key = o.descriptionKey();
            if (key == null || key.isEmpty() || !spec.commandLine().getParseResult().hasMatchedOption(o)) continue;
            f.put(key, String.valueOf((Object) o.getValue()));
        }
        return f;
    }

    private static String key(RecordComponent rc) {
        return PropertyNamingStrategies.KebabCaseStrategy.INSTANCE.translate(rc.getName());
    }

    private static String show(Object v) {
        if (v == null) return "none";
        if (v instanceof List<?> l) return String.join(",", l.stream().map(String::valueOf).toList());
        return String.valueOf(v);
    }

    private static String label(Class<?> t) {
        if (t == int.class || t == long.class) return "N";
        if (t == double.class) return "X";
        return "VALUE";
    }
}
