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
import java.util.concurrent.Callable;
import org.qoft4j.trainer.Checkpointer;
import org.qoft4j.trainer.Finetune;
import org.qoft4j.trainer.Help;
import org.qoft4j.trainer.SkillEvals;
import org.qoft4j.trainer.TrainConfig;
import org.qoft4j.trainer.TrainConfigIO;
import org.qoft4j.trainer.TrainSummary;
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
                "With no model named anywhere, finetunes the bundled test-data model (the demo)."})
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
        PrintWriter out = spec.commandLine().getOut();
        Map<String, Path> skills = new LinkedHashMap<>(demo ? DemoJob.skillEvals() : Map.of());
        skills.putAll(skillEvals);
        SkillEvals evals = new SkillEvals(skills, skillEvalExamples, 12);
        if (demo) out.println(DemoJob.banner(c));
        out.flush();
        try (Finetune job = Finetune.open(c)) {
            job.trainer().addListener(Progress.listener(c.progress())).addListener(LossCurve.listener(c));
            List<SkillEvals.Score> before = evals.isEmpty() ? List.of() : evals.measure(job);
            TrainSummary s = job.train();
            out.println(s.format());
            if (!evals.isEmpty()) out.print(SkillEvals.format(before, evals.measure(job)));
        }
        if (demo) out.println(DemoJob.nextSteps(c));
        out.flush();
        return 0;
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
