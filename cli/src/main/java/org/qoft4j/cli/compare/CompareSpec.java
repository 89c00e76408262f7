package org.qoft4j.cli.compare;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import org.qoft4j.data.TestData;
import org.qoft4j.trainer.ConfigException;

/**
 * A comparison: one model, one dataset, one seed and token budget (the common training options), several
 * {@link Variant}s, each trained in its own JVM by {@link Comparison}.
 *
 * @param model             Hugging Face model directory, or null with {@code randomModel}
 * @param randomModel       a {@code RandomLlama} spec (e.g. {@code 1b}), or null; trains on random token rows
 * @param data              training JSONL (null with a random model)
 * @param skills            skill name -> chat JSONL, each measured before and after training: loss and exact-match
 *                          accuracy (e.g. "new skill" = what the adapter should learn, "base skill" = what it should
 *                          not forget)
 * @param variants          the arms, in report order
 * @param out               output directory: one subdirectory per variant, report.md, report.json, loss-curves.png
 * @param quant             4-bit type of the quantized variants (nf4, fp4, int4)
 * @param options           training options for every variant, {@code key=value} as {@code ./qoft4j finetune} takes them
 * @param variantOptions    options for one variant only, applied after {@code options}
 * @param untimedSteps      leading steps left out of the step time
 * @param maxEvalExamples   exact-match examples per skill
 * @param overwrite         replace existing variant directories under {@code out}
 * @param processes         data-parallel processes per variant (1: one JVM each; more: a run of that many workers
 *                          on this machine, as {@code ./qoft4j finetune --nproc-per-node N})
 */
public record CompareSpec(String model, String randomModel, String data, Map<String, String> skills, List<Variant> variants, Path out,
                          String quant, List<String> options, Map<Variant, List<String>> variantOptions, int untimedSteps,
                          int maxEvalExamples, boolean overwrite, int processes) {
    /** QOFT and QLoRA: what {@code compare} runs unless told otherwise. */
    public static final List<Variant> DEFAULT_VARIANTS = List.of(Variant.QOFT, Variant.QLORA);

    /**
     * The test-data budget, the same for every variant: the settings of {@code ./qoft4j finetune}'s demo (60 steps of
     * 16 rows of 128 tokens), measured to teach QOFT the new skill in about a minute on 2 cores (docs/BENCHMARKS.md).
     */
    public static final List<String> TEST_DATA_OPTIONS = List.of("steps=60", "batch-size=16", "seq-len=128", "lr=4e-3", "warmup=5", "seed=42");

    /** A random model's budget on a CPU: a few steps of one row of 512 tokens, enough to time them. */
    public static final List<String> RANDOM_MODEL_OPTIONS = List.of("steps=4", "batch-size=1", "seq-len=512", "warmup=1", "seed=42");

    public CompareSpec {
        skills = skills == null ? Map.of() : new LinkedHashMap<>(skills);
        variants = List.copyOf(variants);
        options = List.copyOf(options);
        Map<Variant, List<String>> vo = new EnumMap<>(Variant.class);
        if (variantOptions != null) variantOptions.forEach((k, v) -> vo.put(k, List.copyOf(v)));
        variantOptions = vo;
    }

    /** QOFT vs QLoRA on the bundled test data: new skill "shift", base skill "copy" (see {@link TestData}). */
    public static CompareSpec testData() {
        Map<String, String> skills = new LinkedHashMap<>();
        TestData.skills().forEach((name, file) -> skills.put(name, file.toString()));
        return new CompareSpec(TestData.model().toString(), null, TestData.shiftTrain().toString(), skills, DEFAULT_VARIANTS,
                Path.of("runs", "compare"), "nf4", TEST_DATA_OPTIONS, Map.of(), 2, 100, false, 1);
    }

    /** QOFT vs QLoRA on a random-weight model ({@code RandomLlama} spec), timing and memory only. */
    public static CompareSpec randomModel(String spec) {
        return new CompareSpec(null, spec, null, Map.of(), DEFAULT_VARIANTS, Path.of("runs", "compare"), "nf4", RANDOM_MODEL_OPTIONS, Map.of(),
                1, 0, false, 1);
    }

    /** QOFT vs QLoRA on a model directory and a training file (eval loss on a held-out split; add skills with {@link #withSkill}). */
    public static CompareSpec of(Path model, Path data) {
        return new CompareSpec(model.toString(), null, data.toString(), Map.of(), DEFAULT_VARIANTS, Path.of("runs", "compare"), "nf4",
                List.of("seed=42"), Map.of(), 2, 100, false, 1);
    }

    public CompareSpec withVariants(Variant... vs) {
        return new CompareSpec(model, randomModel, data, skills, Arrays.asList(vs), out, quant, options, variantOptions, untimedSteps,
                maxEvalExamples, overwrite, processes);
    }

    public CompareSpec withData(Path file) {
        return new CompareSpec(model, randomModel, file.toString(), skills, variants, out, quant, options, variantOptions, untimedSteps,
                maxEvalExamples, overwrite, processes);
    }

    public CompareSpec withOut(Path dir) {
        return new CompareSpec(model, randomModel, data, skills, variants, dir, quant, options, variantOptions, untimedSteps, maxEvalExamples,
                overwrite, processes);
    }

    /** Adds training options for every variant ({@code "steps=20"}, {@code "device=cuda"}); later ones win. */
    public CompareSpec with(String... keyValues) {
        List<String> o = new ArrayList<>(options);
        o.addAll(Arrays.asList(keyValues));
        return new CompareSpec(model, randomModel, data, skills, variants, out, quant, o, variantOptions, untimedSteps, maxEvalExamples,
                overwrite, processes);
    }

    /** Adds training options for one variant ({@code QLORA, "lr=1e-3"}). */
    public CompareSpec withVariantOptions(Variant v, String... keyValues) {
        Map<Variant, List<String>> m = new EnumMap<>(Variant.class);
        m.putAll(variantOptions);
        List<String> o = new ArrayList<>(m.getOrDefault(v, List.of()));
        o.addAll(Arrays.asList(keyValues));
        m.put(v, o);
        return new CompareSpec(model, randomModel, data, skills, variants, out, quant, options, m, untimedSteps, maxEvalExamples, overwrite, processes);
    }

    /** Adds a skill evaluation (chat JSONL whose last assistant turn is the expected answer). */
    public CompareSpec withSkill(String name, Path file) {
        Map<String, String> s = new LinkedHashMap<>(skills);
        s.put(name, file.toString());
        return new CompareSpec(model, randomModel, data, s, variants, out, quant, options, variantOptions, untimedSteps, maxEvalExamples,
                overwrite, processes);
    }

    public CompareSpec withQuant(String q) {
        return new CompareSpec(model, randomModel, data, skills, variants, out, q, options, variantOptions, untimedSteps, maxEvalExamples,
                overwrite, processes);
    }

    public CompareSpec withUntimedSteps(int n) {
        return new CompareSpec(model, randomModel, data, skills, variants, out, quant, options, variantOptions, n, maxEvalExamples, overwrite, processes);
    }

    public CompareSpec withMaxEvalExamples(int n) {
        return new CompareSpec(model, randomModel, data, skills, variants, out, quant, options, variantOptions, untimedSteps, n, overwrite, processes);
    }

    /** Trains each variant data-parallel with {@code n} processes on this machine. */
    public CompareSpec withProcesses(int n) {
        return new CompareSpec(model, randomModel, data, skills, variants, out, quant, options, variantOptions, untimedSteps, maxEvalExamples,
                overwrite, n);
    }

    public CompareSpec withOverwrite(boolean o) {
        return new CompareSpec(model, randomModel, data, skills, variants, out, quant, options, variantOptions, untimedSteps, maxEvalExamples, o, processes);
    }

    /** Checks what can be checked before any run starts; all problems together. */
    public CompareSpec validate() {
        List<String> e = new ArrayList<>();
        if ((model == null) == (randomModel == null)) e.add("give exactly one of a model directory and a random model");
        if (model != null && !Files.isDirectory(Path.of(model))) e.add("model " + model + " is not a directory");
        if (randomModel == null && data == null) e.add("data is required (a training JSONL file)");
        if (data != null && !Files.isRegularFile(Path.of(data))) e.add("data " + data + " is not a file");
        if (randomModel != null && !skills.isEmpty()) e.add("skill evaluations need a tokenizer; a random model has none");
        skills.forEach((name, f) -> {
            if (!Files.isRegularFile(Path.of(f))) e.add("skill '" + name + "': " + f + " is not a file");
        });
        if (variants.isEmpty()) e.add("no variants to compare");
        if (new LinkedHashSet<>(variants).size() != variants.size()) e.add("a variant is listed twice: " + variants);
        if (out == null) e.add("out is required");
        if (!List.of("nf4", "fp4", "int4").contains(String.valueOf(quant))) e.add("quant must be nf4, fp4 or int4, got '" + quant + "'");
        if (untimedSteps < 0) e.add("untimed-steps must be >= 0, got " + untimedSteps);
        if (processes < 1) e.add("nproc-per-node must be >= 1, got " + processes);
        if (maxEvalExamples < 1 && !skills.isEmpty()) e.add("max-eval-examples must be >= 1, got " + maxEvalExamples);
        for (String o : options) if (o.startsWith("adapter=") || o.startsWith("quant=") || o.startsWith("out="))
            e.add("option '" + o + "': adapter, quant and out are set per variant (use variants, --quant and --out)");
        if (!e.isEmpty()) throw new ConfigException("invalid comparison:\n  - " + String.join("\n  - ", e));
        return this;
    }

    /** The training options of one variant's run, written into {@code dir}. */
    List<String> runOptions(Variant v, Path dir) {
        List<String> o = new ArrayList<>();
        if (model != null) o.add("model=" + model);
        if (data != null) o.add("data=" + data);
        o.add("out=" + dir);
        o.add("adapter=" + v.adapter());
        o.add("quant=" + (v.quantized() ? quant : "none"));
        if (!skills.isEmpty()) o.add("eval-fraction=0"); // the skill evaluations are the eval sets
        o.addAll(options);
        o.addAll(variantOptions.getOrDefault(v, List.of()));
        return o;
    }
}
