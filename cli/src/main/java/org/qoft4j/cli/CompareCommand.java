package org.qoft4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.qoft4j.cli.compare.CompareSpec;
import org.qoft4j.cli.compare.Comparison;
import org.qoft4j.cli.compare.ComparisonReport;
import org.qoft4j.cli.compare.Variant;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code qoft4j compare}: QOFT against QLoRA (and optionally full-precision OFTv2 / LoRA and OFT v1) on one model,
 * dataset, seed and token budget, each run in its own JVM; writes report.md, report.json and loss-curves.png.
 * With no model named it compares on the bundled test data (new skill "shift", base skill "copy").
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train several adapters on the same model, data, seed and token budget, each in its own JVM, and compare them:",
                "trainable parameters, adapter bytes, peak memory, step time, tokens/s, final loss, skill loss and exact-match accuracy",
                "before -> after (forgetting), max orthogonality error. Writes OUT/report.md, OUT/report.json, OUT/loss-curves.png.",
                "No --model: QOFT vs QLoRA on the bundled test data. KEY=VALUE: training options for every variant",
                "(as ./qoft4j finetune takes them); VARIANT:KEY=VALUE for one variant (e.g. qlora:lr=1e-3)."})
public final class CompareCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR", description = "Hugging Face model directory (default: test-data/tiny-llama)") Path model;
    @Option(names = {"--random-model", "--random"}, paramLabel = "SPEC",
            description = "a random-weight Llama instead of --model: 1b (hidden 2048, 16 layers, 32/8 heads, MLP 8192, vocab 32000), "
                    + "bench, d1024, or key=value list (1b,layers=4); trains on random tokens, timing and memory only")
    String randomModel;
    @Option(names = "--data", paramLabel = "FILE", description = "training JSONL (default with test data: shift-train.jsonl)") Path data;
    @Option(names = "--new-skill", paramLabel = "FILE", description = "chat JSONL of the skill being taught: loss and exact match before/after")
    Path newSkill;
    @Option(names = "--base-skill", paramLabel = "FILE", description = "chat JSONL of a skill the model already has: forgetting") Path baseSkill;
    @Option(names = "--variants", split = ",", paramLabel = "V[,V...]", description = "qoft, qlora, oft, lora, oft-v1 (default: qoft,qlora)")
    List<String> variants;
    @Option(names = "--out", paramLabel = "DIR", description = "output directory (default: runs/compare)") Path out;
    @Option(names = "--quant", paramLabel = "nf4|fp4|int4", description = "4-bit type of qoft / qlora (default: nf4)") String quant;
    @Option(names = "--steps", description = "optimizer steps per variant") Integer steps;
    @Option(names = "--batch-size") Integer batchSize;
    @Option(names = "--seq-len") Integer seqLen;
    @Option(names = "--lr") Double lr;
    @Option(names = "--seed") Long seed;
    @Option(names = "--device", paramLabel = "cpu|cuda") String device;
    @Option(names = "--dtype", paramLabel = "fp32|bf16|auto") String dtype;
    @Option(names = "--threads", description = "CPU threads per run (default: all cores)") Integer threads;
    @Option(names = "--untimed-steps", description = "leading steps left out of the step time (default: 2, random model 1)") Integer untimed;
    @Option(names = "--max-eval-examples", description = "exact-match examples per skill (default: 100)") Integer maxEval;
    @Option(names = "--overwrite", description = "replace existing runs in OUT") boolean overwrite;
    @Option(names = "--nproc-per-node", paramLabel = "N", description = "train each variant data-parallel with N processes on this machine "
            + "(the cores divided among them; as ./qoft4j finetune --nproc-per-node N)") Integer nproc;

    @Parameters(paramLabel = "[VARIANT:]KEY=VALUE", description = "training options, e.g. lora-r=8 qlora:lr=1e-3")
    List<String> options = new ArrayList<>();

    @Override
    public Integer call() {
        CompareSpec s = resolve();
        PrintWriter o = spec.commandLine().getOut();
        ComparisonReport r = Comparison.run(s, line -> {
            o.println(line);
            o.flush();
        });
        o.println();
        o.print(r.table());
        for (String line : r.ratios()) o.println(line);
        o.flush();
        return 0;
    }

    /** The comparison these arguments describe. */
    CompareSpec resolve() {
        CompareSpec s;
        if (randomModel != null) {
            if (model != null) throw new CommandLine.ParameterException(spec.commandLine(), "give --model or --random-model, not both");
            s = CompareSpec.randomModel(randomModel);
        } else if (model == null) {
            s = CompareSpec.testData();
        } else {
            if (data == null) throw new CommandLine.ParameterException(spec.commandLine(), "--model needs --data (a training JSONL)");
            s = CompareSpec.of(model, data);
        }
        if (model == null && randomModel == null && data != null) s = s.withData(data);
        if (newSkill != null) s = s.withSkill("new skill", newSkill);
        if (baseSkill != null) s = s.withSkill("base skill", baseSkill);
        if (variants != null) s = s.withVariants(variants.stream().map(Variant::parse).toArray(Variant[]::new));
        if (out != null) s = s.withOut(out);
        if (quant != null) s = s.withQuant(quant);
        if (untimed != null) s = s.withUntimedSteps(untimed);
        if (maxEval != null) s = s.withMaxEvalExamples(maxEval);
        s = s.withOverwrite(overwrite);
        if (nproc != null) s = s.withProcesses(nproc);
        List<String> flags = new ArrayList<>();
        if (steps != null) flags.add("steps=" + steps);
        if (batchSize != null) flags.add("batch-size=" + batchSize);
        if (seqLen != null) flags.add("seq-len=" + seqLen);
        if (lr != null) flags.add("lr=" + lr);
        if (seed != null) flags.add("seed=" + seed);
        if (device != null) flags.add("device=" + device);
        if (dtype != null) flags.add("dtype=" + dtype);
        if (threads != null) flags.add("threads=" + threads);
        s = s.with(flags.toArray(String[]::new));
        for (String kv : options) {
            int colon = kv.indexOf(':'), eq = kv.indexOf('=');
            if (colon > 0 && (eq < 0 || colon < eq)) s = s.withVariantOptions(Variant.parse(kv.substring(0, colon)), kv.substring(colon + 1));
            else s = s.with(kv);
        }
        return s;
    }
}
