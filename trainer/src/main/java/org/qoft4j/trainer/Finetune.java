package org.qoft4j.trainer;

import org.qoft4j.core.OpenMp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.qoft4j.core.CpuThreads;
import org.qoft4j.data.JsonlDataset;
import org.qoft4j.data.Sample;
import org.qoft4j.data.SampleEncoder;
import org.qoft4j.data.tokenizer.TextTokenizer;
import org.qoft4j.model.AdapterSet;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.trainer.eval.Evaluator;

/**
 * One finetuning run from a {@link TrainConfig}: loads the model (linear layers quantized on load), its tokenizer and
 * the data, puts the adapters on, and trains with its one {@link Trainer} — the listeners added to
 * {@link #trainer()} are the ones {@link #train()} calls.
 *
 * <pre>{@code
 * TrainSummary s = Finetune.run(config);            // all of it
 *
 * try (Finetune job = Finetune.open(config)) {      // or with a look before and after
 *     Evaluator.Result before = job.evaluate(job.evalSamples());
 *     job.trainer().onStep(m -> System.out.println(m.step() + " " + m.loss()));
 *     TrainSummary s = job.train();
 *     Evaluator.Result after = job.evaluate(job.evalSamples());
 * }
 * }</pre>
 *
 * <p><b>Data parallelism.</b> When the torchrun environment contract names several processes (RANK, WORLD_SIZE,
 * MASTER_ADDR, MASTER_PORT, and LOCAL_RANK / LOCAL_WORLD_SIZE; set by {@code ./qoft4j finetune --nproc-per-node N},
 * by {@code org.qoft4j.trainer.dist.Launcher}, by torchrun or by a Slurm wrapper), {@code open} joins the group of
 * that run before loading anything, checks that every rank has the same settings, model files and data, and the run
 * becomes one rank of a data-parallel run (docs/DESIGN.md, "Data parallelism"): {@code device=cuda} means
 * {@code cuda:LOCAL_RANK}, rank 0 alone writes the outputs, listeners run on every rank ({@link #rank()} tells them
 * apart).
 */
public final class Finetune implements AutoCloseable {
    static {
        OpenMp.preferPassiveWaiting(); // before libtorch loads: libgomp reads it once
    }

    private final TrainConfig config;
    private final LlamaModel model;
    private final TextTokenizer tokenizer;
    private final boolean owns;
    private final AdapterSet adapters;
    private final List<Sample> train;
    private final List<Sample> eval;
    private final Trainer trainer;
    private final DataParallelRun dp;

    private Finetune(TrainConfig config, LlamaModel model, TextTokenizer tokenizer, boolean owns, DataParallelRun dp) {
        this.dp = dp;
        this.config = config;
        this.model = model;
        this.tokenizer = tokenizer;
        this.owns = owns;
        List<Sample> all = readSamples(Path.of(config.data()));
        if (config.evalData() != null) {
            this.train = all;
            this.eval = readSamples(Path.of(config.evalData()));
        } else {
            JsonlDataset.Split split = JsonlDataset.split(all, config.evalFraction(), config.seed());
            this.train = split.train();
            this.eval = split.eval();
        }
        try {
            this.adapters = AdapterSet.inject(model, OrthogonalityGuard.adapterConfig(config), config.adapter(), config.seed());
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage(), e);
        }
        this.trainer = new Trainer(config, model, adapters, train, eval, dp);
    }

    /** Trains as {@code config} says and returns the summary. */
    public static TrainSummary run(TrainConfig config) {
        try (Finetune job = open(config)) {
            return job.train();
        }
    }

    /** Loads the model directory's model (and tokenizer.json when present) and the data; the job owns and closes them. */
    public static Finetune open(TrainConfig config) {
        config.validate();
        DataParallelRun dp = DataParallelRun.fromEnvironment(config, System.getenv(), true);
        TextTokenizer tok = null;
        LlamaModel m = null;
        try {
            useThreads(config, dp);
            Path dir = config.modelDir();
            tok = Files.exists(dir.resolve("tokenizer.json")) ? TextTokenizer.load(dir, config.addBosToken(), config.addEosToken()) : null;
            m = ModelLoader.load(dir, dp.loadOptions(config));
            return new Finetune(config, m, tok, true, dp);
        } catch (RuntimeException e) {
            if (m != null) m.close();
            if (tok != null) tok.close();
            dp.close();
            throw e;
        }
    }

    /**
     * A job on a model built elsewhere (e.g. in memory); the caller keeps ownership of {@code model} and
     * {@code tokenizer} (null when all data is pre-tokenized). {@code config.model()} is only recorded.
     */
    public static Finetune open(TrainConfig config, LlamaModel model, TextTokenizer tokenizer) {
        config.validate();
        DataParallelRun dp = DataParallelRun.fromEnvironment(config, System.getenv(), false);
        try {
            useThreads(config, dp);
            return new Finetune(config, model, tokenizer, false, dp);
        } catch (RuntimeException e) {
            dp.close();
            throw e;
        }
    }

    /**
     * libtorch's intra-op threads as configured (0 = all cores; in a data-parallel run the cores of the machine divided
     * among its workers), after checking that the device exists.
     */
    private static void useThreads(TrainConfig config, DataParallelRun dp) {
        try {
            config.device().requireAvailable();
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage(), e);
        }
        int threads = dp.threads(config);
        CpuThreads.use(threads); // libtorch's pool and OpenBLAS's
        // the native kernels' pool sizes itself from this property when it loads (else all cores): a data-parallel worker
        // keeps to its share there too, or N workers would each start a pool of all the cores
        if (dp.distributed() && System.getProperty("qoft4j.native.threads") == null)
            System.setProperty("qoft4j.native.threads", Integer.toString(threads));
    }

    /** This process's rank in a data-parallel run (0 for a single process); rank 0 writes the outputs. */
    public int rank() {
        return dp.rank();
    }

    /** Processes in the run (1 for a single process). */
    public int worldSize() {
        return dp.worldSize();
    }

    /** This run's trainer: add listeners to it before {@link #train()}. */
    public Trainer trainer() {
        return trainer;
    }

    public TrainSummary train() {
        return trainer.train();
    }

    /**
     * Eval loss and perplexity of the model with its adapters (dropout off) over {@code samples}, in this process
     * (in a data-parallel run, each rank evaluates all of {@code samples} itself).
     */
    public Evaluator.Result evaluate(List<Sample> samples) {
        boolean wasTraining = adapters.isTraining();
        adapters.train(false);
        try (PointerScope scope = new PointerScope()) {
            return Evaluator.evaluate(model, samples, config.seqLen(), config.batchSize(), config.packing());
        } finally {
            adapters.train(wasTraining);
        }
    }

    /** The samples of a JSONL file, encoded as the training data is (same tokenizer, masking and options). */
    public List<Sample> readSamples(Path jsonl) {
        SampleEncoder encoder = new SampleEncoder(tokenizer, config.trainOnPrompt(), model.config().vocabSize(), config.chatTemplateKwargs());
        return JsonlDataset.read(jsonl, encoder, config.skipMalformed(), config.maxSamples()).samples();
    }

    public TrainConfig config() {
        return config;
    }

    public LlamaModel model() {
        return model;
    }

    /** The tokenizer, or null when the model directory has no tokenizer.json. */
    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    public AdapterSet adapters() {
        return adapters;
    }

    public List<Sample> trainSamples() {
        return train;
    }

    public List<Sample> evalSamples() {
        return eval;
    }

    @Override
    public void close() {
        adapters.close();
        if (owns) {
            model.close();
            if (tokenizer != null) tokenizer.close();
        }
        dp.close();
    }
}
