package org.qoft4j.trainer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Consumer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.qoft4j.data.Batch;
import org.qoft4j.data.DataCursor;
import org.qoft4j.data.DataLoader;
import org.qoft4j.data.Sample;
import org.qoft4j.trainer.eval.Evaluator;
import org.qoft4j.core.memory.CudaMemory;
import org.qoft4j.core.memory.ResidentMemory;
import org.qoft4j.model.AdapterSet;
import org.qoft4j.model.LlamaModel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.core.AtomicDirectories;

/**
 * The finetuning loop. Supports:
 * <ul>
 *   <li>OFTv2 (QOFT on a 4-bit base) or LoRA (QLoRA) adapters ({@link AdapterSet}); only adapter tensors train,
 *       the base (NF4 / FP4 / INT4 or full precision) is frozen</li>
 *   <li>layer-wise recomputation ({@link RecomputeStep}, default) or plain autograd ({@link FullGraphStep},
 *       memory-hungry), with the same gradients</li>
 *   <li>libtorch's AdamW ({@link AdapterOptimizer}), linear warmup then cosine decay to a floor ({@link LrSchedule}),
 *       gradient accumulation (the loss is the mean over all scored tokens of the step), global-norm clipping</li>
 *   <li>a run length in steps or in epochs; packed or padded batches; seeded and deterministic on CPU</li>
 *   <li>eval loss and perplexity on the eval split every N steps and at the end</li>
 *   <li>atomic checkpoints every N steps and at the end, and exact resume, mid-epoch included ({@link Checkpointer})</li>
 *   <li>a NaN or infinite loss or gradient norm stops the run with a {@link TrainingDivergedException}; nothing is
 *       saved after it, so the last good checkpoint stays the latest</li>
 *   <li>{@code metrics.jsonl}, {@link TrainingListener}s (the command line's progress bar and loss curve) and a
 *       final {@link TrainSummary}</li>
 *   <li>CPU (fp32 or bf16 compute) and CUDA (bf16 compute); adapter parameters and optimizer state stay fp32</li>
 * </ul>
 * Not supported: full finetuning, several GPUs or processes, mixed adapter kinds in one run.
 *
 * <p>Every step runs inside its own PointerScope, so no native tensor of a step outlives it.
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);
    /** Options that may differ from the checkpoint's when resuming (they do not change the computation). */
    static final Set<String> RESUME_MAY_CHANGE = Set.of("steps", "epochs", "save-every", "eval-every", "keep-checkpoints", "out", "resume", "log-every", "memory-budget",
            "progress", "threads", "eval-data");

    private final TrainConfig config;
    private final LlamaModel model;
    private final AdapterSet adapters;
    private final List<Sample> train;
    private final List<Sample> eval;
    private final DataLoader loader;
    private final RngState rng;
    private final List<TrainingListener> listeners = new ArrayList<>();
    private Path lastCheckpoint;

    /**
     * @param train training samples (the loader shuffles them per epoch with the config's seed)
     * @param eval  eval samples; empty for none
     */
    public Trainer(TrainConfig config, LlamaModel model, AdapterSet adapters, List<Sample> train, List<Sample> eval) {
        this.config = config.validate();
        this.model = model;
        this.adapters = adapters;
        this.train = List.copyOf(train);
        this.eval = List.copyOf(eval);
        this.loader = newLoader();
        this.rng = new RngState(model.device());
    }

    /** Adds a listener; {@link #train()} calls them in the order added, on the training thread. */
    public Trainer addListener(TrainingListener listener) {
        listeners.add(listener);
        return this;
    }

    /** Called after every optimizer step with its metrics (on the training thread). */
    public Trainer onStep(Consumer<StepMetrics> listener) {
        return addListener(new TrainingListener() {
            @Override
            public void onStep(StepMetrics m) {
                listener.accept(m);
            }
        });
    }

    /** Optimizer steps of the whole run: {@code steps}, or the batches of {@code epochs} epochs over gradient accumulation. */
    public int totalSteps() {
        if (config.steps() > 0) return config.steps();
        DataLoader counter = newLoader();
        long batches = 0;
        for (int e = 0; e < config.epochs(); e++) {
            counter.seek(new DataCursor(e, 0));
            batches += counter.batchesPerEpoch();
        }
        return (int) Math.max(1, (batches + config.gradAccum() - 1) / config.gradAccum());
    }

    public TrainSummary train() {
        long started = System.nanoTime();
        Path out = config.outDir();
        Checkpointer checkpointer = new Checkpointer(out.resolve("checkpoints"), config.keepCheckpoints());
        int total = totalSteps();
        try (AdapterOptimizer optimizer = new AdapterOptimizer(adapters.parameters(), config)) {
            TrainerState state = start(checkpointer, optimizer, total);
            loader.seek(state.cursor());
            LrSchedule schedule = LrSchedule.of(config, total);
            BackwardPass pass = BackwardPass.of(model, rng, config);
            long tokens = state.tokensSeen();
            double trainSeconds = state.trainSeconds();
            StepMetrics last = null;
            EvalMetrics lastEval = null;
            listeners.forEach(l -> l.onStart(total, state.step()));
            try (MetricsLog metrics = new MetricsLog(out.resolve(MetricsLog.FILE), state.step())) {
                if (state.step() > 0) note("resumed from " + lastCheckpoint + " at step " + state.step() + " of " + total);
                if (config.warmup() >= total) note("note: warmup (" + config.warmup() + " steps) is not shorter than the run (" + total
                        + " steps): the learning rate never reaches its peak");
                adapters.train(true);
                for (int step = state.step(); step < total; step++) {
                    last = step(step, pass, optimizer, schedule);
                    tokens += last.tokens();
                    trainSeconds += last.stepSeconds();
                    metrics.write(last);
                    for (TrainingListener l : listeners) l.onStep(last);
                    int done = step + 1;
                    if (done < total && config.evalEvery() > 0 && done % config.evalEvery() == 0) lastEval = evaluate(done, metrics);
                    if (done < total && config.saveEvery() > 0 && done % config.saveEvery() == 0)
                        save(checkpointer, optimizer, new TrainerState(done, total, loader.cursor().epoch(), loader.cursor().position(), tokens, trainSeconds));
                }
                if (!eval.isEmpty()) lastEval = evaluate(total, metrics);
                save(checkpointer, optimizer, new TrainerState(total, total, loader.cursor().epoch(), loader.cursor().position(), tokens, trainSeconds));
            }
            Path adapterDir = out.resolve("adapter");
            try {
                AtomicDirectories.write(adapterDir, d -> adapters.save(d, config.model()));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + adapterDir + ": " + e.getMessage(), e);
            }
            TrainSummary summary = summary(started, total, tokens, trainSeconds, last, lastEval, adapterDir);
            listeners.forEach(l -> l.onEnd(summary));
            return summary;
        }
    }

    /** One optimizer step over {@code gradAccum} micro-batches, inside its own PointerScope. */
    private StepMetrics step(int step, BackwardPass pass, AdapterOptimizer optimizer, LrSchedule schedule) {
        long t0 = System.nanoTime();
        try (PointerScope scope = new PointerScope()) {
            List<Batch> micro = new ArrayList<>();
            for (int k = 0; k < config.gradAccum(); k++) micro.add(loader.next());
            long scored = 0, tokens = 0;
            for (Batch b : micro) {
                scored += b.scoredTokens();
                tokens += b.realTokens();
            }
            if (scored == 0)
                throw new IllegalStateException("step " + (step + 1) + ": its " + micro.size() + " batch(es) have no scored tokens (every label is "
                        + Sample.IGNORE + "): completions were cut off by seq-len " + config.seqLen() + " or the data has none; "
                        + "raise seq-len or use train-on-prompt");
            double lr = schedule.at(step);
            optimizer.zeroGrad();
            Tensor nll = null; // summed on the device: the step reads it once
            for (Batch b : micro) {
                Tensor x = pass.run(b, 1.0 / scored).nllSum();
                nll = nll == null ? x : nll.add(x);
            }
            StepReadout read = StepReadout.read(nll, optimizer.clipGradNorm(config.maxGradNorm()),
                    StepReadout.logsDiagnostics(config, step + 1, schedule.totalSteps()) ? adapters.maxOrthogonalityErrorOnDevice() : null); // the step's one host read
            double loss = read.nllSum() / scored;
            if (!Double.isFinite(loss)) throw diverged(step + 1, "the training loss is " + loss);
            if (!Double.isFinite(read.gradNorm())) throw diverged(step + 1, "the gradient norm is " + read.gradNorm() + " (loss " + loss + ")");
            optimizer.step(lr);
            double seconds = (System.nanoTime() - t0) / 1e9;
            return new StepMetrics("train", step + 1, loss, lr, read.gradNorm(), tokens, scored, tokens / seconds, seconds,
                    ResidentMemory.currentBytes(), ResidentMemory.peakBytes(), cudaPeak(), read.maxOrthogonalityError());
        }
    }

    private TrainingDivergedException diverged(int step, String what) {
        String where = lastCheckpoint == null ? "no checkpoint was saved before it (set save-every to keep one)"
                : "the last good checkpoint is " + lastCheckpoint + " (continue from it with --resume " + lastCheckpoint + ")";
        return new TrainingDivergedException(step, "training stopped at step " + step + ": " + what + "; nothing was saved after the "
                + "divergence and " + where + ". Try a lower lr (now " + config.lr() + ") or max-grad-norm.");
    }

    private EvalMetrics evaluate(int step, MetricsLog metrics) {
        long t0 = System.nanoTime();
        Evaluator.Result r;
        adapters.train(false);
        try (PointerScope scope = new PointerScope()) {
            r = Evaluator.evaluate(model, eval, config.seqLen(), config.batchSize(), config.packing());
        } finally {
            adapters.train(true);
        }
        EvalMetrics e = new EvalMetrics("eval", step, r.loss(), r.perplexity(), r.tokens(), (System.nanoTime() - t0) / 1e9);
        metrics.write(e);
        for (TrainingListener l : listeners) l.onEval(e);
        note(String.format(Locale.ROOT, "eval @ step %d: loss %.4f  perplexity %.3f  (%d tokens)", step, r.loss(), r.perplexity(), r.tokens()));
        return e;
    }

    private void save(Checkpointer checkpointer, AdapterOptimizer optimizer, TrainerState state) {
        lastCheckpoint = checkpointer.save(state, adapters, optimizer, rng, config);
        for (TrainingListener l : listeners) l.onCheckpoint(lastCheckpoint, state.step());
        note("checkpoint: " + lastCheckpoint);
    }

    private void note(String message) {
        LOG.info(message);
        for (TrainingListener l : listeners) l.onNote(message);
    }

    /** A fresh start (seeded) or the state restored from {@code config.resume()}. */
    private TrainerState start(Checkpointer checkpointer, AdapterOptimizer optimizer, int total) {
        if (config.resume() != null) {
            Path from = Checkpointer.resolve(Path.of(config.resume()));
            List<String> changed = TrainConfigIO.differences(Checkpointer.config(from), config, RESUME_MAY_CHANGE);
            if (!changed.isEmpty())
                throw new ConfigException("cannot resume from " + from + " with different settings: " + String.join("; ", changed)
                        + " (a resumed run takes its settings from the checkpoint's " + Checkpointer.CONFIG_FILE + ")");
            TrainerState s = Checkpointer.restore(from, adapters, optimizer, rng);
            lastCheckpoint = from;
            return s;
        }
        List<Path> existing = Checkpointer.list(checkpointer.dir());
        if (!existing.isEmpty())
            throw new ConfigException(config.out() + " already holds a run (" + existing.get(existing.size() - 1) + "); continue it with --resume "
                    + config.out() + " or choose another --out");
        rng.seed(config.seed());
        return new TrainerState(0, total, 0, 0, 0, 0);
    }

    private DataLoader newLoader() {
        return new DataLoader(train, config.seqLen(), config.batchSize(), config.packing(), true, config.seed(), 0);
    }

    private Long cudaPeak() {
        Device d = model.device();
        return d.is_cuda() ? CudaMemory.peakAllocatedBytes(d) : null;
    }

    private TrainSummary summary(long started, int steps, long tokens, double trainSeconds, StepMetrics last, EvalMetrics lastEval, Path adapterDir) {
        double tokensPerS = trainSeconds > 0 ? tokens / trainSeconds : 0;
        Double mfu = null;
        if (model.device().is_cuda()) {
            double peak = Mfu.peakFlops(Mfu.gpuName());
            if (!Double.isNaN(peak)) mfu = tokensPerS * Mfu.flopsPerToken(model, config.seqLen()) / peak;
        }
        double finalLoss = last != null ? last.loss() : Double.NaN;
        return new TrainSummary(config.adapter().key(), config.quant().key(), steps, adapters.trainableParameters(), adapters.bytes(),
                (System.nanoTime() - started) / 1e9, tokens, tokensPerS, ResidentMemory.peakBytes(), cudaPeak(), mfu, finalLoss,
                lastEval == null ? null : lastEval.evalLoss(), lastEval == null ? null : lastEval.perplexity(), adapterDir, lastCheckpoint);
    }
}
