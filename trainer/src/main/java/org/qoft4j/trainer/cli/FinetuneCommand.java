package org.qoft4j.trainer.cli;

import java.nio.file.Path;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.qoft4j.trainer.train.Checkpointer;
import org.qoft4j.trainer.train.Finetune;
import org.qoft4j.trainer.train.SkillEvals;
import org.qoft4j.trainer.train.TrainConfig;
import org.qoft4j.trainer.train.TrainConfigIO;
import org.qoft4j.trainer.train.TrainSummary;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code qoft4j finetune}: trains QOFT or QLoRA adapters. Settings come in layers, each over the previous: the
 * defaults (or, with {@code --resume}, the checkpoint's own settings), {@code --config FILE.yaml}, the flags, then
 * {@code key=value} arguments. Keys are the flag names without dashes in front ({@code batch-size=8}).
 */
@Command(name = "finetune", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Finetune a (4-bit) Llama-family model with OFTv2 (QOFT) or LoRA (QLoRA) adapters.",
                "Writes OUT/adapter (PEFT files), OUT/checkpoints, OUT/metrics.jsonl and OUT/loss.png.",
                "Settings: defaults < --config FILE.yaml < flags < KEY=VALUE arguments (keys as the flags: lr=1e-4, batch-size=8)."})
public final class FinetuneCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE.yaml", description = "YAML file of settings (keys as the flags)")
    Path config;
    @Option(names = "--model", paramLabel = "DIR", description = "Hugging Face model directory") String model;
    @Option(names = "--data", paramLabel = "FILE", description = "training JSONL (text / alpaca / chat / input_ids records)") String data;
    @Option(names = "--eval-data", paramLabel = "FILE", description = "eval JSONL (default: hold out eval-fraction of --data)") String evalData;
    @Option(names = "--out", paramLabel = "DIR", description = "output directory (default: runs/finetune)") String out;
    @Option(names = "--steps", description = "optimizer steps (default: 100)") Integer steps;
    @Option(names = "--epochs", description = "passes over the data, instead of --steps") Integer epochs;
    @Option(names = "--batch-size", description = "rows per micro-batch (default: 4)") Integer batchSize;
    @Option(names = "--seq-len", description = "tokens per row (default: 256)") Integer seqLen;
    @Option(names = "--grad-accum", description = "micro-batches per step (default: 1)") Integer gradAccum;
    @Option(names = "--lr", description = "peak learning rate (default: 2e-4)") Double lr;
    @Option(names = "--warmup", description = "warmup steps (default: 10)") Integer warmup;
    @Option(names = "--save-every", description = "checkpoint every N steps (default: 0 = only at the end)") Integer saveEvery;
    @Option(names = "--eval-every", description = "evaluate every N steps (default: 0 = only at the end)") Integer evalEvery;
    @Option(names = "--seed", description = "default: 42") Long seed;
    @Option(names = "--device", paramLabel = "cpu|cuda", description = "default: cpu") String device;
    @Option(names = "--dtype", paramLabel = "fp32|bf16|auto", description = "compute dtype; adapters stay fp32 (default: auto = bf16 on CUDA, fp32 on CPU)") String dtype;
    @Option(names = "--adapter", paramLabel = "oft|lora|oft-v1", description = "default: oft (oft-v1: the original weight-centric OFT, for comparisons)") String adapter;
    @Option(names = "--quant", paramLabel = "nf4|fp4|int4|none", description = "base weights (default: nf4)") String quant;
    @Option(names = "--oft-block-size", description = "OFT block size (default: 32)") Integer oftBlockSize;
    @Option(names = "--neumann-terms", description = "OFT Cayley-Neumann terms (default: 5)") Integer neumannTerms;
    @Option(names = "--lora-r", description = "LoRA rank (default: 16)") Integer loraR;
    @Option(names = "--lora-alpha", description = "LoRA alpha (default: 32)") Double loraAlpha;
    @Option(names = "--lora-dropout", description = "LoRA dropout (default: 0.05)") Double loraDropout;
    @Option(names = "--target-modules", split = ",", paramLabel = "NAME[,NAME...]",
            description = "modules to adapt (default: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj; or all-linear)")
    List<String> targetModules;
    @Option(names = "--no-recompute", description = "plain autograd over the whole model instead of layer-wise recomputation (memory-hungry)")
    boolean noRecompute;
    @Option(names = "--resume", paramLabel = "DIR", description = "continue from a checkpoint (or the newest one in a run directory)")
    String resume;

    @Option(names = "--skill-eval", paramLabel = "NAME=FILE", mapFallbackValue = "",
            description = {"exact-match accuracy and loss on a chat JSONL, before and after training (repeatable)"})
    Map<String, Path> skillEvals = new LinkedHashMap<>();
    @Option(names = "--skill-eval-examples", paramLabel = "N", description = "greedy answers per skill eval (default: ${DEFAULT-VALUE})")
    int skillEvalExamples = 50;

    @Parameters(paramLabel = "KEY=VALUE", description = "overrides, e.g. lr=1e-4 max-grad-norm=0.5 (see the keys of a checkpoint's config.yaml)")
    List<String> overrides = new ArrayList<>();

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
        return model == null && config == null && resume == null && overrides.stream().noneMatch(o -> o.startsWith("model="));
    }

    /** The settings these arguments describe. */
    TrainConfig resolve() {
        return resolve(isDemo());
    }

    private TrainConfig resolve(boolean demo) {
        TrainConfig base = resume != null ? Checkpointer.config(Checkpointer.resolve(Path.of(resume))) : TrainConfig.defaults();
        List<TrainConfigIO.Layer> layers = new ArrayList<>();
        if (demo) layers.add(TrainConfigIO.fromValues(DemoJob.settings(), "the test-data demo's settings"));
        if (config != null) layers.add(TrainConfigIO.fromYaml(config));
        layers.add(TrainConfigIO.fromValues(flags(), "command-line flags"));
        if (!overrides.isEmpty()) layers.add(TrainConfigIO.fromOverrides(overrides));
        return TrainConfigIO.resolve(base, layers);
    }

    private Map<String, Object> flags() {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("model", model);
        f.put("data", data);
        f.put("eval-data", evalData);
        f.put("out", out);
        f.put("steps", steps);
        f.put("epochs", epochs);
        f.put("batch-size", batchSize);
        f.put("seq-len", seqLen);
        f.put("grad-accum", gradAccum);
        f.put("lr", lr);
        f.put("warmup", warmup);
        f.put("save-every", saveEvery);
        f.put("eval-every", evalEvery);
        f.put("seed", seed);
        f.put("device", device);
        f.put("dtype", dtype);
        f.put("adapter", adapter);
        f.put("quant", quant);
        f.put("oft-block-size", oftBlockSize);
        f.put("neumann-terms", neumannTerms);
        f.put("lora-r", loraR);
        f.put("lora-alpha", loraAlpha);
        f.put("lora-dropout", loraDropout);
        f.put("target-modules", targetModules);
        f.put("recompute", noRecompute ? Boolean.FALSE : null);
        f.put("resume", resume);
        return f;
    }
}
