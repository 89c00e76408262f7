package org.qoft4j.trainer.train;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.oft.AdapterConfig;
import org.qoft4j.oft.LoraConfig;
import org.qoft4j.oft.OftConfig;
import org.qoft4j.oft.TargetModules;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.trainer.model.LoadOptions;

/**
 * Every option of a finetuning run. In YAML files, {@code key=value} overrides and {@code config.yaml} inside a
 * checkpoint the keys are the kebab-case names of the components ({@code batch-size}, {@code eval-every}, ...),
 * the same as the command-line flags; {@link TrainConfigIO} reads and writes them.
 *
 * @param model          Hugging Face model directory (config.json, safetensors, tokenizer.json)
 * @param data           training JSONL (text, alpaca, chat or pre-tokenized records)
 * @param evalData       eval JSONL, or null to hold out {@code evalFraction} of {@code data}
 * @param evalFraction   share of {@code data} held out for eval when {@code evalData} is null (0 = no eval)
 * @param out            output directory: adapter/, checkpoints/, metrics.jsonl, loss.png
 * @param steps          optimizer steps (exclusive with {@code epochs}; one of them is positive)
 * @param epochs         passes over the training data
 * @param batchSize      rows per micro-batch
 * @param seqLen         tokens per row (samples are packed into rows, or truncated)
 * @param gradAccum      micro-batches per optimizer step
 * @param lr             peak learning rate
 * @param warmup         linear warmup steps
 * @param minLrRatio     the cosine decay ends at {@code lr * minLrRatio}
 * @param weightDecay    AdamW's decoupled weight decay
 * @param beta1          AdamW beta1
 * @param beta2          AdamW beta2
 * @param adamEps        AdamW epsilon
 * @param maxGradNorm    global gradient-norm clipping threshold (0 = no clipping; the norm is still logged)
 * @param saveEvery      checkpoint every N steps (0 = only at the end)
 * @param evalEvery      evaluate every N steps (0 = only at the end)
 * @param keepCheckpoints how many checkpoints to keep (oldest deleted first)
 * @param seed           seeds data order, adapter initialization and dropout
 * @param device         "cpu" or "cuda" (or "cuda:N")
 * @param dtype          compute dtype: "fp32", "bf16", or "auto" (bf16 on CUDA, fp32 on CPU); adapters stay fp32
 * @param threads        CPU threads for libtorch (0 = all cores)
 * @param adapter        "oft" (OFTv2; QOFT on a 4-bit base), "lora" (QLoRA on a 4-bit base) or "oft-v1" (the original
 *                       weight-centric OFT, for comparisons: same parameters and outputs as OFTv2, far costlier)
 * @param quant          base weights: "nf4", "fp4", "int4" or "none"
 * @param oftBlockSize   OFT block size b
 * @param neumannTerms   OFT Cayley–Neumann terms N
 * @param loraR          LoRA rank
 * @param loraAlpha      LoRA alpha
 * @param loraDropout    LoRA dropout on the adapter input
 * @param targetModules  module names (suffixes such as q_proj) or ["all-linear"]
 * @param recompute      layer-wise recomputation (false: plain autograd over the whole model, memory-hungry)
 * @param packing        pack several samples into a row (false: one sample per row, padded)
 * @param trainOnPrompt  score prompt tokens too
 * @param skipMalformed  skip (and count) malformed JSONL lines instead of failing
 * @param maxSamples     read at most this many samples from each file (0 = all)
 * @param resume         checkpoint (or run / checkpoints directory) to continue from, or null
 * @param progress       show a progress bar / progress lines
 */
public record TrainConfig(
        String model, String data, String evalData, double evalFraction, String out,
        int steps, int epochs, int batchSize, int seqLen, int gradAccum,
        double lr, int warmup, double minLrRatio, double weightDecay, double beta1, double beta2, double adamEps, double maxGradNorm,
        int saveEvery, int evalEvery, int keepCheckpoints, long seed,
        String device, String dtype, int threads,
        String adapter, String quant, int oftBlockSize, int neumannTerms, int loraR, double loraAlpha, double loraDropout,
        List<String> targetModules,
        boolean recompute, boolean packing, boolean trainOnPrompt, boolean skipMalformed, int maxSamples,
        String resume, boolean progress) {

    static final String OFT_V1 = "oft-v1";

    public TrainConfig {
        targetModules = targetModules == null ? null : List.copyOf(targetModules);
    }

    /** The defaults every YAML file, flag and override is applied on top of (model and data must still be given). */
    public static TrainConfig defaults() {
        return new TrainConfig(null, null, null, 0.1, "runs/finetune",
                100, 0, 4, 256, 1,
                2e-4, 10, 0.1, 0.0, 0.9, 0.999, 1e-8, 1.0,
                0, 0, 2, 42,
                "cpu", "auto", 0,
                "oft", "nf4", OftConfig.DEFAULT_BLOCK_SIZE, OftConfig.DEFAULT_NEUMANN_TERMS, 16, 32, 0.05,
                TargetModules.LLAMA_ALL_LINEAR.names(),
                true, true, false, false, 0,
                null, true);
    }

    /**
     * Checks every value; all problems are reported together, one per line, each naming the option.
     *
     * @throws ConfigException when something is wrong
     */
    public TrainConfig validate() {
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
        String dev = device == null ? "" : device.toLowerCase(Locale.ROOT);
        if (!(dev.equals("cpu") || dev.equals("cuda") || dev.matches("cuda:\\d+"))) e.add("device must be cpu or cuda (or cuda:N), got '" + device + "'");
        if (!List.of("auto", "fp32", "bf16").contains(String.valueOf(dtype))) e.add("dtype must be fp32, bf16 or auto, got '" + dtype + "'");
        if (!List.of("oft", "lora", OFT_V1).contains(String.valueOf(adapter))) e.add("adapter must be oft, lora or oft-v1, got '" + adapter + "'");
        if (quant == null || !List.of("nf4", "fp4", "int4", "none").contains(quant)) e.add("quant must be nf4, fp4, int4 or none, got '" + quant + "'");
        positive(e, "oft-block-size", oftBlockSize);
        if (neumannTerms < 1 || neumannTerms > OftConfig.MAX_NEUMANN_TERMS)
            e.add("neumann-terms must be 1.." + OftConfig.MAX_NEUMANN_TERMS + ", got " + neumannTerms);
        positive(e, "lora-r", loraR);
        if (!Double.isFinite(loraAlpha) || loraAlpha <= 0) e.add("lora-alpha must be a positive number, got " + loraAlpha);
        if (!(loraDropout >= 0 && loraDropout < 1)) e.add("lora-dropout must be in [0, 1), got " + loraDropout);
        if (targetModules == null || targetModules.isEmpty() || targetModules.stream().anyMatch(TrainConfig::blank))
            e.add("target-modules must list module names (e.g. q_proj, v_proj) or be [all-linear], got " + targetModules);
        if (!e.isEmpty()) throw new ConfigException("invalid training configuration:\n  - " + String.join("\n  - ", e));
        return this;
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

    /** OFTv2 or OFT v1: the adapter is a rotation. */
    public boolean usesOft() {
        return "oft".equals(adapter) || OFT_V1.equals(adapter);
    }

    /** The weight-centric OFT v1 ({@code OftV1Layer}) rather than OFTv2. */
    public boolean oftV1() {
        return OFT_V1.equals(adapter);
    }

    public TargetModules targets() {
        return targetModules.size() == 1 && targetModules.get(0).equals(TargetModules.ALL_LINEAR)
                ? TargetModules.regex(TargetModules.ALL_LINEAR) : new TargetModules(targetModules, null);
    }

    /** The adapter these options describe: OFTv2 with block size and Neumann terms, or LoRA with rank, alpha and dropout. */
    public AdapterConfig adapterConfig() {
        if (usesOft()) return OftConfig.defaults().withBlockSize(oftBlockSize).withNeumannTerms(neumannTerms).withTargetModules(targets());
        return new LoraConfig(loraR, loraAlpha, loraDropout, false, targets());
    }

    /** Where the model goes and in which dtype it computes; linear layers quantized on load unless quant is none. */
    public LoadOptions loadOptions() {
        QuantSpec q = LoadOptions.parseQuant(quant);
        return new LoadOptions(new Device(device.toLowerCase(Locale.ROOT)), computeDtype(), q);
    }

    /** bf16 or fp32; "auto" is bf16 on CUDA and fp32 on the CPU. */
    public ScalarType computeDtype() {
        boolean bf16 = "bf16".equals(dtype) || ("auto".equals(dtype) && onCuda());
        return bf16 ? ScalarType.BFloat16 : ScalarType.Float;
    }

    public boolean onCuda() {
        return device != null && device.toLowerCase(Locale.ROOT).startsWith("cuda");
    }
}
