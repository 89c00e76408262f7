package org.qoft4j.trainer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.qoft4j.adapters.AdapterConfig;
import org.qoft4j.adapters.AdapterKind;
import org.qoft4j.adapters.LoraConfig;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.TargetModules;
import org.qoft4j.core.ComputeDtype;
import org.qoft4j.core.DeviceSpec;
import org.qoft4j.quant.BaseQuant;
import org.qoft4j.model.LoadOptions;

/**
 * Every option of a finetuning run, typed, each defined once: its {@link Help} is the flag's help, its kebab-case
 * name ({@code batch-size}) the key in YAML files, in {@code key=value} overrides, in a checkpoint's
 * {@code config.yaml}, and the flag ({@code --batch-size}). {@link TrainConfigIO} reads and writes them; build one
 * with {@code TrainConfigIO.resolve(TrainConfig.defaults(), layers)} or {@link #with}.
 */
public record TrainConfig(
        @Help(value = "Hugging Face model directory (config.json + safetensors + tokenizer.json), or a llama2.c .bin", label = "DIR") String model,
        @Help(value = "training JSONL: text, alpaca, chat or input_ids records", label = "FILE") String data,
        @Help(value = "eval JSONL (default: hold out eval-fraction of data)", label = "FILE") String evalData,
        @Help("share of data held out for eval when eval-data is not given (0 = no eval; default: ${DEFAULT})") double evalFraction,
        @Help(value = "output directory: adapter/, checkpoints/, metrics.jsonl, loss.png (default: ${DEFAULT})", label = "DIR") String out,
        @Help("optimizer steps (default: ${DEFAULT}); exclusive with epochs") int steps,
        @Help("passes over the training data, instead of steps") int epochs,
        @Help("rows per micro-batch (default: ${DEFAULT})") int batchSize,
        @Help("tokens per row; samples are packed into rows or truncated (default: ${DEFAULT})") int seqLen,
        @Help("micro-batches per optimizer step (default: ${DEFAULT})") int gradAccum,
        @Help("peak learning rate (default: ${DEFAULT})") double lr,
        @Help("linear warmup steps (default: ${DEFAULT})") int warmup,
        @Help("the cosine decay ends at lr * min-lr-ratio (default: ${DEFAULT})") double minLrRatio,
        @Help("AdamW's decoupled weight decay (default: ${DEFAULT})") double weightDecay,
        @Help("AdamW beta1 (default: ${DEFAULT})") double beta1,
        @Help("AdamW beta2 (default: ${DEFAULT})") double beta2,
        @Help("AdamW epsilon (default: ${DEFAULT})") double adamEps,
        @Help("global gradient-norm clipping threshold; 0 = no clipping, the norm is still logged (default: ${DEFAULT})") double maxGradNorm,
        @Help("checkpoint every N steps (default: ${DEFAULT} = only at the end)") int saveEvery,
        @Help("evaluate every N steps (default: ${DEFAULT} = only at the end)") int evalEvery,
        @Help("checkpoints to keep, oldest deleted first (default: ${DEFAULT})") int keepCheckpoints,
        @Help("seeds data order, adapter initialization and dropout (default: ${DEFAULT})") long seed,
        @Help(value = "cpu, cuda or cuda:N (default: ${DEFAULT})", label = "cpu|cuda") DeviceSpec device,
        @Help(value = "compute dtype; adapters stay fp32 (default: ${DEFAULT} = bf16 on CUDA, fp32 on CPU)", label = "auto|fp32|bf16") ComputeDtype dtype,
        @Help("CPU threads for libtorch (default: ${DEFAULT} = all cores)") int threads,
        @Help(value = "oft = OFTv2 (QOFT on a 4-bit base), lora = LoRA (QLoRA), oft-v1 = the original weight-centric OFT, for comparisons (default: ${DEFAULT})",
                label = "oft|lora|oft-v1") AdapterKind adapter,
        @Help(value = "how the frozen base is stored: quantized on load, or adopted as stored when already 4-bit (default: ${DEFAULT})",
                label = "nf4|fp4|int4|none") BaseQuant quant,
        @Help("OFT block size b (default: ${DEFAULT})") int oftBlockSize,
        @Help("OFT Cayley-Neumann terms (default: ${DEFAULT})") int neumannTerms,
        @Help("LoRA rank (default: ${DEFAULT})") int loraR,
        @Help("LoRA alpha (default: ${DEFAULT})") double loraAlpha,
        @Help("LoRA dropout on the adapter input (default: ${DEFAULT})") double loraDropout,
        @Help(value = "modules to adapt, by name suffix, or all-linear (default: ${DEFAULT})", label = "NAME[,NAME...]") List<String> targetModules,
        @Help("layer-wise recomputation; --no-recompute runs plain autograd over the whole model: same gradients, memory-hungry (default: ${DEFAULT})")
        boolean recompute,
        @Help("pack several samples into a row, each attending only to itself; --no-packing: one sample per row, padded (default: ${DEFAULT})")
        boolean packing,
        @Help("score prompt / non-assistant tokens too (default: ${DEFAULT})") boolean trainOnPrompt,
        @Help("skip and count malformed JSONL lines instead of failing (default: ${DEFAULT})") boolean skipMalformed,
        @Help("read at most N samples from each file (default: ${DEFAULT} = all)") int maxSamples,
        @Help(value = "continue from a checkpoint, or the newest one in a run directory", label = "DIR") String resume,
        @Help("show a progress bar / progress lines (default: ${DEFAULT})") boolean progress,
        // issue 12: training-step efficiency
        @Help("read the OFT orthogonality diagnostics (max_orthogonality_error in metrics.jsonl) every N steps and at the last; "
                + "0 = never (default: ${DEFAULT})") int logEvery,
        @Help(value = "with recompute: how many top layers keep their graph instead of being recomputed; lean = the top one, auto = as many "
                + "as fit where recomputation peaked before, or a total such as 12GiB (resident on the CPU, allocated on CUDA) (default: ${DEFAULT})",
                label = "lean|auto|SIZE") String memoryBudget) {

    public TrainConfig {
        targetModules = targetModules == null ? null : List.copyOf(targetModules);
    }

    /** The defaults every YAML file, flag and override is applied on top of (model and data must still be given). */
    public static TrainConfig defaults() {
        return new TrainConfig(null, null, null, 0.1, "runs/finetune",
                100, 0, 4, 256, 1,
                2e-4, 10, 0.1, 0.0, 0.9, 0.999, 1e-8, 1.0,
                0, 0, 2, 42,
                DeviceSpec.CPU, ComputeDtype.AUTO, 0,
                AdapterKind.OFT, BaseQuant.NF4, OftConfig.DEFAULT_BLOCK_SIZE, OftConfig.DEFAULT_NEUMANN_TERMS, 16, 32, 0.05,
                TargetModules.LLAMA_ALL_LINEAR.names(),
                true, true, false, false, 0,
                null, true,
                // issue 12
                10, "auto");
    }

    /** This configuration with {@code key=value} overrides applied ({@code with("lr=1e-4", "steps=20")}), validated. */
    public TrainConfig with(String... keyValues) {
        return TrainConfigIO.resolve(this, List.of(TrainConfigIO.fromOverrides(List.of(keyValues))));
    }

    /**
     * Checks every value; all problems are reported together, one per line, each naming the option.
     *
     * @throws ConfigException when something is wrong
     */
    public TrainConfig validate() {
        List<String> e = problems();
        if (!e.isEmpty()) throw new ConfigException("invalid training configuration:\n  - " + String.join("\n  - ", e));
        return this;
    }

    /** Every invalid value, one line each naming the option; empty when the configuration is usable. */
    public List<String> problems() {
        List<String> e = new ArrayList<>();
        if (blank(model)) e.add("model is required (a Hugging Face model directory: --model DIR or 'model:' in the YAML)");
        if (blank(data)) e.add("data is required (a JSONL file: --data FILE or 'data:' in the YAML)");
        if (blank(out)) e.add("out is required (the output directory)");
        if (!(evalFraction >= 0 && evalFraction < 1)) e.add("eval-fraction must be in [0, 1), got " + evalFraction);
        if (steps < 0 || epochs < 0 || (steps > 0) == (epochs > 0))
            e.add("give exactly one of steps and epochs as a positive number (got steps " + steps + ", epochs " + epochs + ")");
        positive(e, "batch-size", batchSize);
        if (seqLen < 2) e.add("seq-len must be >= 2, got " + seqLen);
        positive(e, "grad-accum", gradAccum);
        if (!(lr > 0) || Double.isInfinite(lr)) e.add("lr must be a positive number, got " + lr);
        nonNegative(e, "warmup", warmup);
        if (!(minLrRatio >= 0 && minLrRatio <= 1)) e.add("min-lr-ratio must be in [0, 1], got " + minLrRatio);
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) e.add("weight-decay must be >= 0, got " + weightDecay);
        if (!(beta1 >= 0 && beta1 < 1)) e.add("beta1 must be in [0, 1), got " + beta1);
        if (!(beta2 >= 0 && beta2 < 1)) e.add("beta2 must be in [0, 1), got " + beta2);
        if (!(adamEps > 0) || Double.isInfinite(adamEps)) e.add("adam-eps must be positive, got " + adamEps);
        if (!(maxGradNorm >= 0) || Double.isInfinite(maxGradNorm)) e.add("max-grad-norm must be >= 0 (0 = no clipping), got " + maxGradNorm);
        nonNegative(e, "save-every", saveEvery);
        nonNegative(e, "eval-every", evalEvery);
        positive(e, "keep-checkpoints", keepCheckpoints);
        nonNegative(e, "threads", threads);
        nonNegative(e, "max-samples", maxSamples);
        nonNegative(e, "log-every", logEvery); // issue 12
        try {
            KeptLayers.parseCheck(memoryBudget);
        } catch (IllegalArgumentException ex) {
            e.add(ex.getMessage());
        }
        if (device == null) e.add("device must be cpu, cuda or cuda:N");
        if (dtype != ComputeDtype.AUTO && dtype != ComputeDtype.FP32 && dtype != ComputeDtype.BF16)
            e.add("dtype must be fp32, bf16 or auto for training, got '" + dtype + "'");
        if (adapter == null) e.add("adapter must be oft, lora or oft-v1");
        if (quant == null) e.add("quant must be nf4, fp4, int4 or none");
        positive(e, "oft-block-size", oftBlockSize);
        if (neumannTerms < 1 || neumannTerms > OftConfig.MAX_NEUMANN_TERMS)
            e.add("neumann-terms must be 1.." + OftConfig.MAX_NEUMANN_TERMS + ", got " + neumannTerms);
        positive(e, "lora-r", loraR);
        if (!Double.isFinite(loraAlpha) || loraAlpha <= 0) e.add("lora-alpha must be a positive number, got " + loraAlpha);
        if (!(loraDropout >= 0 && loraDropout < 1)) e.add("lora-dropout must be in [0, 1), got " + loraDropout);
        if (targetModules == null || targetModules.isEmpty() || targetModules.stream().anyMatch(TrainConfig::blank))
            e.add("target-modules must list module names (e.g. q_proj, v_proj) or be [all-linear], got " + targetModules);
        return e;
    }

    private static boolean blank(String s) {
        return s == null || s.isBlank();
    }

    private static void positive(List<String> e, String name, long v) {
        if (v < 1) e.add(name + " must be >= 1, got " + v);
    }

    private static void nonNegative(List<String> e, String name, long v) {
        if (v < 0) e.add(name + " must be >= 0, got " + v);
    }

    public Path modelDir() {
        return Path.of(model);
    }

    public Path outDir() {
        return Path.of(out);
    }

    public TargetModules targets() {
        return targetModules.size() == 1 && targetModules.get(0).equals(TargetModules.ALL_LINEAR)
                ? TargetModules.regex(TargetModules.ALL_LINEAR) : new TargetModules(targetModules, null);
    }

    /** The adapter these options describe: OFT with block size and Neumann terms, or LoRA with rank, alpha and dropout. */
    public AdapterConfig adapterConfig() {
        if (adapter.isOft()) return OftConfig.defaults().withBlockSize(oftBlockSize).withNeumannTerms(neumannTerms).withTargetModules(targets());
        return new LoraConfig(loraR, loraAlpha, loraDropout, false, targets());
    }

    /** Where the model goes and in which dtype it computes; linear layers quantized on load unless quant is none. */
    public LoadOptions loadOptions() {
        return new LoadOptions(device.device(), dtype.on(device), quant.spec());
    }
}
