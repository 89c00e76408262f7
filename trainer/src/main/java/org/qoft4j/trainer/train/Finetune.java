package org.qoft4j.trainer.train;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.trainer.data.JsonlDataset;
import org.qoft4j.trainer.data.Sample;
import org.qoft4j.trainer.data.SampleEncoder;
import org.qoft4j.trainer.eval.Evaluator;
import org.qoft4j.trainer.model.LlamaModel;
import org.qoft4j.trainer.model.ModelLoader;
import org.qoft4j.trainer.tokenizer.TextTokenizer;

/**
 * A finetuning job from a {@link TrainConfig}: loads the model (linear layers quantized on load), its tokenizer and
 * the data, injects the adapters, and trains with {@link Trainer}.
 *
 * <pre>{@code
 * TrainSummary s = Finetune.run(config);            // all of it
 *
 * try (Finetune job = Finetune.open(config)) {      // or with a look before and after
 *     Evaluator.Result before = job.evaluate(job.evalSamples());
 *     TrainSummary s = job.train();
 *     Evaluator.Result after = job.evaluate(job.evalSamples());
 * }
 * }</pre>
 */
public final class Finetune implements AutoCloseable {
    private final TrainConfig config;
    private final LlamaModel model;
    private final TextTokenizer tokenizer;
    private final boolean owns;
    private final Adapters adapters;
    private final List<Sample> train;
    private final List<Sample> eval;

    private Finetune(TrainConfig config, LlamaModel model, TextTokenizer tokenizer, boolean owns) {
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
        this.adapters = AdapterInjector.inject(model, config.adapterConfig(), config.seed(), config.oftV1());
    }

    /** Trains as {@code config} says and returns the summary. */
    public static TrainSummary run(TrainConfig config) {
        try (Finetune job = open(config)) {
            return job.train();
        }
    }

    /** Fails clearly when {@code device} is CUDA and this libtorch build or machine has none. */
    public static void requireDevice(String device) {
        if (device.toLowerCase(java.util.Locale.ROOT).startsWith("cuda") && !torch.cuda_is_available())
            throw new ConfigException("device " + device + ": CUDA is not available (build with -Pgpu on a machine with an NVIDIA GPU)");
    }

    /** Loads the model directory's model (and tokenizer.json when present) and the data; the job owns and closes them. */
    public static Finetune open(TrainConfig config) {
        config.validate();
        torch.set_num_threads(config.threads() > 0 ? config.threads() : Runtime.getRuntime().availableProcessors());
        requireDevice(config.device());
        Path dir = config.modelDir();
        TextTokenizer tok = Files.exists(dir.resolve("tokenizer.json")) ? TextTokenizer.load(dir) : null;
        LlamaModel m = null;
        try {
            m = ModelLoader.load(dir, config.loadOptions());
            return new Finetune(config, m, tok, true);
        } catch (RuntimeException e) {
            if (m != null) m.close();
            if (tok != null) tok.close();
            throw e;
        }
    }

    /**
     * A job on a model built elsewhere (e.g. in memory); the caller keeps ownership of {@code model} and
     * {@code tokenizer} (null when all data is pre-tokenized). {@code config.model()} is only recorded.
     */
    public static Finetune open(TrainConfig config, LlamaModel model, TextTokenizer tokenizer) {
        return new Finetune(config.validate(), model, tokenizer, false);
    }

    /** A trainer for this job (add step listeners, then {@link Trainer#train()}). */
    public Trainer trainer() {
        return new Trainer(config, model, adapters, train, eval);
    }

    public TrainSummary train() {
        return trainer().train();
    }

    /** Eval loss and perplexity of the model with its adapters (dropout off) over {@code samples}. */
    public Evaluator.Result evaluate(List<Sample> samples) {
        boolean wasTraining = adapters.layers().values().iterator().next().isTraining();
        adapters.train(false);
        try (PointerScope scope = new PointerScope()) {
            return Evaluator.evaluate(model, samples, config.seqLen(), config.batchSize(), config.packing());
        } finally {
            adapters.train(wasTraining);
        }
    }

    /** The samples of a JSONL file, encoded as the training data is (same tokenizer, masking and options). */
    public List<Sample> readSamples(Path jsonl) {
        SampleEncoder encoder = new SampleEncoder(tokenizer, config.trainOnPrompt(), model.config().vocabSize());
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

    public Adapters adapters() {
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
    }
}
