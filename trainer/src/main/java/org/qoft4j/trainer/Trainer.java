package org.qoft4j.trainer;

import org.qoft4j.core.OpenMp;
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
 *   <li>a NaN or infinite loss, gradient norm, adapter parameter, OFT rotation or optimizer moment, or a dead run (loss
 *       at ln(vocab) with a zero gradient), stops the run with a {@link TrainingDivergedException} naming the last good
 *       checkpoint ({@link DivergenceGuard}); nothing is saved after it</li>
 *   <li>an exclusive lock on the output directory for the run's lifetime ({@link RunLock})</li>
 *   <li>{@code metrics.jsonl}, {@link TrainingListener}s (the command line's progress bar and loss curve) and a
 *       final {@link TrainSummary}</li>
 *   <li>CPU (fp32 or bf16 compute) and CUDA (bf16 compute); adapter parameters and optimizer state stay fp32</li>
 * </ul>
 * <p>Data parallelism (several processes, GPUs or machines; docs/DESIGN.md, "Data parallelism"): the per-rank work
 * is {@link DataParallelRun}'s, which is a no-op for one process. Not supported: full finetuning, mixed adapter kinds
 * in one run.
 *
 * <p>Every step runs inside its own PointerScope, so no native tensor of a step outlives it.
 */
public final class Trainer {
    static {
        OpenMp.preferPassiveWaiting(); // before libtorch loads: libgomp reads it once
    }

    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);
    /** Options that may differ from the checkpoint's when resuming (they do not change the computation). */
    static final Set<String> RESUME_MAY_CHANGE = Set.of("steps", "epochs", "save-every", "eval-every", "keep-checkpoints", "out", "resume",
            "progress", "threads", "eval-data", "dist-backend", "dist-timeout", "dist-overlap", "log-every", "memory-budget");

    private final TrainConfig config;
    private final LlamaModel model;
    private final AdapterSet adapters;
    private final List<Sample> train;
    private final List<Sample> eval;
    private final DataLoader loader;
    private final RngState rng;
    private final List<TrainingListener> listeners = new ArrayList<>();
    private final DataParallelRun dp;
    private Path lastCheckpoint;
    private DivergenceGuard guard; // issue 14: divergence, dead runs, the last good checkpoint
    private List<TrainerState.ResumeChange> resumeChanges = List.of();

    /**
     * @param train training samples (the loader shuffles them per epoch with the config's seed)
     * @param eval  eval samples; empty for none
     */
    public Trainer(TrainConfig config, LlamaModel model, AdapterSet adapters, List<Sample> train, List<Sample> eval) {
        this(config, model, adapters, train, eval, DataParallelRun.single());
    }

    /** As one rank of a data-parallel run ({@link Finetune} joins it from the torchrun environment). */
    Trainer(TrainConfig config, LlamaModel model, AdapterSet adapters, List<Sample> train, List<Sample> eval, DataParallelRun dp) {
        this.dp = dp;
        this.config = config.validate();
        this.model = model;
        this.adapters = adapters;
        this.train = List.copyOf(train);
        this.eval = List.copyOf(eval);
        this.loader = newLoader();
        this.rng = new RngState(model.device());
        addListener(new OrthogonalityGuard(this.config, adapters, this::note)); // issue 13: warns once; neumann-terms auto
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
        guard = new DivergenceGuard(checkpointer, model.config().vocabSize(), config.lr(), this::warn);
        ThreadGovernor governor = new ThreadGovernor(config, dp.distributed(), this::note); // threads: 0 yields cores to other processes
        try (RunLock lock = dp.writesOutputs() ? RunLock.claim(out, this::note) : RunLock.none(); AdapterOptimizer optimizer = new AdapterOptimizer(adapters.parameters(), config)) {
            TrainerState state = start(checkpointer, optimizer, total);
            loader.seek(state.cursor());
            dp.startTraining(model, adapters, config.distOverlap());
            LrSchedule schedule = LrSchedule.of(config, total);
            BackwardPass pass = BackwardPass.of(model, rng, config);
            long tokens = state.tokensSeen();
            double trainSeconds = state.trainSeconds();
            StepMetrics last = null;
            EvalMetrics lastEval = null;
            listeners.forEach(l -> l.onStart(total, state.step()));
            try (MetricsLog metrics = dp.writesOutputs() ? new MetricsLog(out.resolve(MetricsLog.FILE), state.step()) : MetricsLog.discarding()) {
                if (state.step() > 0) note("resumed from " + lastCheckpoint + " at step " + state.step() + " of " + total);
                if (metrics.resumeNote() != null) note(metrics.resumeNote());
                String positions = StartWarnings.positions(config, model.config(), train);
                if (positions != null) warn(positions);
                if (config.warmup() >= total) note("note: warmup (" + config.warmup() + " steps) is not shorter than the run (" + total
                        + " steps): the learning rate never reaches its peak");
                adapters.train(true);
                for (int step = state.step(); step < total; step++) {
                    governor.beforeStep();
                    last = step(step, pass, optimizer, schedule);
                    governor.afterStep(step + 1);
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
            } catch (org.qoft4j.trainer.dist.CollectiveFailedException e) {
                throw dp.lost(e, lastCheckpoint, config);  // a rank was lost: say which, and where to resume from
            }
            Path adapterDir = out.resolve("adapter");
            if (dp.writesOutputs()) try {
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
            dp.beginStep(step, rng, config.seed());
            List<Batch> micro = new ArrayList<>();
            for (int k = 0; k < config.gradAccum(); k++) micro.add(loader.next());
            long scored = 0, tokens = 0;
            for (Batch b : micro) {
                scored += b.scoredTokens();
                tokens += b.realTokens();
            }
            long[] global = dp.sum(scored, tokens);  // the backward scale is 1 / (scored tokens of the global step)
            scored = global[0];
            tokens = global[1];
            if (scored == 0)
                throw new IllegalStateException("step " + (step + 1) + ": its " + micro.size() + " batch(es) have no scored tokens (every label is "
                        + Sample.IGNORE + "): completions were cut off by seq-len " + config.seqLen() + " or the data has none; "
                        + "raise seq-len or use train-on-prompt");
            double lr = schedule.at(step);
            optimizer.zeroGrad();
            Tensor nll = null; // summed on the device: the step reads it once
            for (int k = 0; k < micro.size(); k++) {
                if (k == micro.size() - 1) dp.armLastMicroBatch();
                Tensor x = pass.run(micro.get(k), 1.0 / scored, dp::layerDone).nllSum();
                nll = nll == null ? x : nll.add(x);
            }
            dp.finishGradients();  // summed over the ranks before clipping and AdamW
            Tensor gradNorm = optimizer.clipGradNorm(config.maxGradNorm()); // on the device, not read
            optimizer.step(lr);
            // the step's one host read, after the update was queued: loss, gradient norm, whether the update left the
            // adapters finite, and on logging and checkpoint steps the OFT orthogonality error of the updated rotations
            StepReadout read = StepReadout.read(nll, gradNorm, CheckpointHealth.nonFiniteCount(adapters),
                    StepReadout.logsDiagnostics(config, step + 1, schedule.totalSteps()) ? adapters.maxOrthogonalityErrorOnDevice() : null);
            DataParallelRun.StepTotals totals = dp.stepTotals(read.nllSum(), cudaPeak() != null ? cudaPeak() : ResidentMemory.peakBytes());
            double loss = totals.nllSum() / scored;
            // a non-finite loss or gradient, or a dead run, stops here: the update already made is never saved
            guard.checkForward(step + 1, loss, read.gradNorm());
            if (read.nonFiniteAdapterValues() > 0) guard.adaptersNotFinite(step + 1, adapters);
            double seconds = (System.nanoTime() - t0) / 1e9;
            StepMetrics m = new StepMetrics("train", step + 1, loss, lr, read.gradNorm(), tokens, scored, tokens / seconds, seconds,
                    ResidentMemory.currentBytes(), ResidentMemory.peakBytes(), cudaPeak(), read.maxOrthogonalityError(), dp.metrics(totals));
            guard.checkMetrics(step + 1, m); // non-finite rotations stop here, before any checkpoint holds this step
            return m;
        }
    }

    private EvalMetrics evaluate(int step, MetricsLog metrics) {
        long t0 = System.nanoTime();
        Evaluator.Result r;
        adapters.train(false);
        try (PointerScope scope = new PointerScope()) {
            r = dp.evaluate(model, eval, config);
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
        try {
            Path saved = dp.writesOutputs()
                    ? checkpointer.save(state.withResumeChanges(resumeChanges).withWorldSize(dp.worldSize()), adapters, optimizer, rng, config)
                    : checkpointer.dir().resolve(Checkpointer.name(state.step()));
            dp.afterCheckpoint(adapters, state.step());  // every rank holds the same adapter, and the checkpoint is complete
            lastCheckpoint = saved;
        } catch (StateNotFiniteException e) {
            throw guard.refused(state.step(), e);
        }
        guard.checkpointed(lastCheckpoint, state.step());
        for (TrainingListener l : listeners) l.onCheckpoint(lastCheckpoint, state.step());
        note("checkpoint: " + lastCheckpoint);
    }

    private void note(String message) {
        LOG.info(message);
        for (TrainingListener l : listeners) l.onNote(message);
    }

    private void warn(String message) {
        LOG.warn(message);
        for (TrainingListener l : listeners) l.onNote("warning: " + message);
    }

    /** A fresh start (seeded) or the state restored from {@code config.resume()}. */
    private TrainerState start(Checkpointer checkpointer, AdapterOptimizer optimizer, int total) {
        if (config.resume() != null) {
            Path from = Checkpointer.resolve(Path.of(config.resume()));
            TrainConfig saved = Checkpointer.config(from);
            // batch-size may change only with the number of processes (the same rows per step): DataParallelRun checks it
            List<TrainerState.ResumeChange> changed = ResumePolicy.changes(from, saved, config, Checkpointer.state(from).step(), Set.of("batch-size"));
            dp.checkResume(from, Checkpointer.state(from), saved, config);
            TrainerState s = Checkpointer.restore(from, adapters, optimizer, rng);
            String bad = CheckpointHealth.adapters(adapters);
            if (bad == null) bad = CheckpointHealth.optimizerFile(from.resolve(AdapterOptimizer.FILE));
            if (bad != null) throw new ConfigException("cannot resume from " + from + ": it is not a good checkpoint: " + bad + "; resume from an earlier one");
            resumeChanges = new ArrayList<>(s.resumeChanges());
            resumeChanges.addAll(changed);
            if (!changed.isEmpty()) note(ResumePolicy.note(changed, saved, config, s.step(), total));
            lastCheckpoint = from;
            guard.checkpointed(from, s.step());
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
        return dp.loader(train, config);
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
