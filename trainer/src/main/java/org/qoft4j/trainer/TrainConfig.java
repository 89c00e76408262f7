package org.qoft4j.trainer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.qoft4j.adapters.AdapterConfig;
import org.qoft4j.adapters.AdapterKind;
import org.qoft4j.adapters.CayleyConvention;
import org.qoft4j.adapters.LoraConfig;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.TargetFilter;
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
        @Help("CPU threads for libtorch and OpenBLAS; 0 = all cores, one while other processes need them (default: ${DEFAULT})") int threads,
        @Help(value = "oft = OFTv2 (QOFT on a 4-bit base), lora = LoRA (QLoRA), oft-v1 = the original weight-centric OFT, for comparisons (default: ${DEFAULT})",
                label = "oft|lora|oft-v1") AdapterKind adapter,
        @Help(value = "how the frozen base is stored: quantized on load, or adopted as stored when already 4-bit (default: ${DEFAULT})",
                label = "nf4|fp4|int4|none") BaseQuant quant,
        @Help("OFT block size b (default: ${DEFAULT})") int oftBlockSize,
        @Help(value = "OFT Cayley-Neumann terms 1..8, or auto: chosen between steps from the blocks' ||Q|| so that max |R^T R - I| stays under "
                + "orthogonality-threshold (default: ${DEFAULT})", label = "N|auto") NeumannTerms neumannTerms,
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
        // issue 11: data parallelism (the launch flags --nproc-per-node, --nnodes, ... belong to the finetune command)
        @Help(value = "collective backend of a data-parallel run: auto = NCCL on CUDA when its natives load, else Gloo (default: ${DEFAULT})",
                label = "auto|gloo|nccl") String distBackend,
        @Help("data-parallel timeout, seconds: joining the group, and any one collective; a lost worker stops the others within it "
                + "(default: ${DEFAULT})") int distTimeout,
        @Help("launch each layer's gradient all-reduce as soon as its backward ends, overlapping the next layer's; --no-dist-overlap: "
                + "after the whole backward (default: ${DEFAULT})") boolean distOverlap,
        // ---- issue 13: chat-template kwargs; PEFT's OFT and LoRA options; the orthogonality guard ----
        @Help(value = "extra chat-template variables for every chat record, e.g. {enable_thinking: false, date_string: 26 Jul 2024}; a record's "
                + "own chat_template_kwargs win (default: none)", label = "{KEY: VALUE}") Map<String, Object> chatTemplateKwargs,
        @Help("OFT blocks per layer (PEFT's r) instead of a block size; 0 = use oft-block-size (default: ${DEFAULT})") int oftR,
        @Help("OFT rotation by the truncated Cayley-Neumann series; --no-use-cayley-neumann: the exact Cayley transform (a batched solve, "
                + "orthogonal to rounding) (default: ${DEFAULT})") boolean useCayleyNeumann,
        @Help("constrained OFT: before each forward every block's ||Q||_F is clipped to coft-eps / sqrt(blocks) (default: ${DEFAULT})") boolean coft,
        @Help("COFT's radius eps, PEFT's eps (default: ${DEFAULT})") double coftEps,
        @Help("OFT: one rotation block shared by all blocks of a layer (default: ${DEFAULT})") boolean blockShare,
        @Help("OFT: in training, int(p * blocks) random blocks of R are the identity on each forward (PEFT's module_dropout) (default: ${DEFAULT})")
        double moduleDropout,
        @Help(value = "adapt only these decoder layers, e.g. 0,1,2 (default: all)", label = "N[,N...]") List<Integer> layersToTransform,
        @Help(value = "modules never adapted, by name suffix or one regex (default: none)", label = "NAME[,NAME...]") List<String> excludeModules,
        @Help("LoRA: rank-stabilized scaling lora-alpha / sqrt(r) instead of / r (default: ${DEFAULT})") boolean useRslora,
        @Help(value = "LoRA: rank per module-name regex, e.g. {down_proj: 8} (default: none)", label = "{REGEX: R}") Map<String, Integer> rankPattern,
        @Help(value = "LoRA: alpha per module-name regex, e.g. {down_proj: 16} (default: none)", label = "{REGEX: ALPHA}") Map<String, Double> alphaPattern,
        @Help("warn once when an OFT layer's max |R^T R - I| passes this; the target of neumann-terms auto; 0 = off (default: ${DEFAULT})")
        double orthogonalityThreshold,
        @Help(value = "override tokenizer_config's add_bos_token for text records (rendered chats add nothing) (default: as the tokenizer)",
                label = "true|false") Boolean addBosToken,
        @Help(value = "override tokenizer_config's add_eos_token for text records (default: as the tokenizer)", label = "true|false") Boolean addEosToken,
        // issue 12: training-step efficiency
        @Help("compute and read the OFT orthogonality diagnostics (max_orthogonality_error in metrics.jsonl) every N steps, besides the "
                + "steps that save a checkpoint and the last; 0 = only those (default: ${DEFAULT})") int logEvery,
        @Help(value = "with recompute: how many top layers keep their graph instead of being recomputed; lean = the top one, auto = as many "
                + "as fit where recomputation peaked before, or a total such as 12GiB (resident on the CPU, allocated on CUDA) (default: ${DEFAULT})",
                label = "lean|auto|SIZE") String memoryBudget) {

    public TrainConfig {
        targetModules = targetModules == null ? null : List.copyOf(targetModules);
        chatTemplateKwargs = chatTemplateKwargs == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(chatTemplateKwargs));
        layersToTransform = layersToTransform == null ? List.of() : List.copyOf(layersToTransform);
        excludeModules = excludeModules == null ? List.of() : List.copyOf(excludeModules);
        rankPattern = rankPattern == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
        alphaPattern = alphaPattern == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
    }

    /** The defaults every YAML file, flag and override is applied on top of (model and data must still be given). */
    public static TrainConfig defaults() {
        return new TrainConfig(null, null, null, 0.1, "runs/finetune",
                100, 0, 4, 256, 1,
                2e-4, 10, 0.1, 0.0, 0.9, 0.999, 1e-8, 1.0,
                0, 0, 2, 42,
                DeviceSpec.CPU, ComputeDtype.AUTO, 0,
                AdapterKind.OFT, BaseQuant.NF4, OftConfig.DEFAULT_BLOCK_SIZE, NeumannTerms.of(OftConfig.DEFAULT_NEUMANN_TERMS), 16, 32, 0.05,
                TargetModules.LLAMA_ALL_LINEAR.names(),
                true, true, false, false, 0,
                null, true,
                // issue 11
                "auto", 120, true,
                // issue 13
                Map.of(), 0, true, false, OftConfig.DEFAULT_EPS, false, 0.0, List.of(), List.of(), false, Map.of(), Map.of(),
                OrthogonalityGuard.DEFAULT_THRESHOLD, null, null,
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
        if (neumannTerms == null || (!neumannTerms.isAuto() && (neumannTerms.fixed() < 1 || neumannTerms.fixed() > OftConfig.MAX_NEUMANN_TERMS)))
            e.add("neumann-terms must be 1.." + OftConfig.MAX_NEUMANN_TERMS + ", got " + neumannTerms + " (or auto)");
        positive(e, "lora-r", loraR);
        if (!Double.isFinite(loraAlpha) || loraAlpha <= 0) e.add("lora-alpha must be a positive number, got " + loraAlpha);
        if (!(loraDropout >= 0 && loraDropout < 1)) e.add("lora-dropout must be in [0, 1), got " + loraDropout);
        if (targetModules == null || targetModules.isEmpty() || targetModules.stream().anyMatch(TrainConfig::blank))
            e.add("target-modules must list module names (e.g. q_proj, v_proj) or be [all-linear], got " + targetModules);
        // issue 11
        if (distBackend == null || !List.of("auto", "gloo", "nccl").contains(distBackend)) e.add("dist-backend must be auto, gloo or nccl, got '" + distBackend + "'");
        positive(e, "dist-timeout", distTimeout);
        issue13Problems(e);
        return e;
    }

    /** Checks of the issue-13 options (chat-template kwargs, PEFT's OFT / LoRA options, the orthogonality guard). */
    private void issue13Problems(List<String> e) {
        nonNegative(e, "oft-r", oftR);
        if (!(coftEps > 0) || Double.isInfinite(coftEps)) e.add("coft-eps must be a positive number, got " + coftEps);
        if (!(moduleDropout >= 0 && moduleDropout < 1)) e.add("module-dropout must be in [0, 1), got " + moduleDropout);
        if (layersToTransform.stream().anyMatch(i -> i == null || i < 0)) e.add("layers-to-transform must list layer indices >= 0, got " + layersToTransform);
        if (excludeModules.stream().anyMatch(TrainConfig::blank)) e.add("exclude-modules must list module names, got " + excludeModules);
        rankPattern.forEach((k, v) -> {
            if (v == null || v < 1) e.add("rank-pattern: '" + k + "' must map to a rank >= 1, got " + v);
        });
        alphaPattern.forEach((k, v) -> {
            if (v == null || !Double.isFinite(v)) e.add("alpha-pattern: '" + k + "' must map to a finite number, got " + v);
        });
        for (String k : union(rankPattern.keySet(), alphaPattern.keySet())) {
            try {
                java.util.regex.Pattern.compile(k);
            } catch (RuntimeException x) {
                e.add("rank-pattern / alpha-pattern key '" + k + "' is not a regular expression: " + x.getMessage());
            }
        }
        if (!(orthogonalityThreshold >= 0) || Double.isInfinite(orthogonalityThreshold))
            e.add("orthogonality-threshold must be >= 0 (0 = off), got " + orthogonalityThreshold);
        if (neumannTerms != null && neumannTerms.isAuto() && !(orthogonalityThreshold > 0))
            e.add("neumann-terms auto needs a positive orthogonality-threshold (the error it keeps N under)");
        if (adapter == AdapterKind.LORA && !layersToTransform.isEmpty() && targetModules != null && targetModules.size() == 1
                && targetModules.get(0).equals(TargetModules.ALL_LINEAR))
            e.add("layers-to-transform cannot be used with target-modules all-linear for LoRA (PEFT's LoraConfig refuses a string target_modules "
                    + "with it): list the module names");
    }

    private static List<String> union(java.util.Set<String> a, java.util.Set<String> b) {
        List<String> out = new ArrayList<>(a);
        for (String k : b) if (!a.contains(k)) out.add(k);
        return out;
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

    /**
     * The adapter these options describe: OFT (block size or r, Neumann terms or the exact transform, COFT, block
     * sharing, module dropout) or LoRA (rank, alpha, dropout, rsLoRA, per-module patterns), on the target modules less
     * exclude-modules, in layers-to-transform. With {@code neumann-terms: auto} the adapters start at
     * {@link OrthogonalityGuard#AUTO_TERMS}[0] terms (see {@link OrthogonalityGuard#adapterConfig} for resuming).
     */
    public AdapterConfig adapterConfig() {
        TargetFilter filter = new TargetFilter(excludeModules.isEmpty() ? null : excludeTargets(), layersToTransform.isEmpty() ? null : layersToTransform,
                null);
        if (adapter.isOft()) {
            OftConfig c = oftR > 0 ? OftConfig.defaults().withR(oftR) : OftConfig.defaults().withBlockSize(oftBlockSize);
            c = c.withNeumannTerms(neumannTerms.isAuto() ? OrthogonalityGuard.AUTO_TERMS[0] : neumannTerms.fixed());
            if (!useCayleyNeumann) c = c.withExactCayley(CayleyConvention.NEUMANN_CONSISTENT);
            return c.withBlockShare(blockShare).withCoft(coft, coftEps).withModuleDropout(moduleDropout).withFilter(filter).withTargetModules(targets());
        }
        return new LoraConfig(loraR, loraAlpha, loraDropout, useRslora, targets(), rankPattern, alphaPattern, filter);
    }

    /** exclude-modules as PEFT's exclude_modules: one entry that is not a plain module name is a regex, else a list of names. */
    private TargetModules excludeTargets() {
        if (excludeModules.size() == 1 && !excludeModules.get(0).matches("[A-Za-z0-9_.]+")) return TargetModules.regex(excludeModules.get(0));
        return new TargetModules(excludeModules, null);
    }

    /** Where the model goes and in which dtype it computes; linear layers quantized on load unless quant is none. */
    public LoadOptions loadOptions() {
        return new LoadOptions(device.device(), dtype.on(device), quant.spec());
    }
}
