package org.qoft4j.trainer;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.core.Tensors;
import org.qoft4j.data.DataLoader;
import org.qoft4j.data.Sample;
import org.qoft4j.model.AdapterSet;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.Projection;
import org.qoft4j.trainer.dist.CollectiveFailedException;
import org.qoft4j.trainer.dist.DataParallelGroup;
import org.qoft4j.trainer.dist.DistEnv;
import org.qoft4j.trainer.dist.DistOptions;
import org.qoft4j.trainer.dist.Fingerprint;
import org.qoft4j.trainer.dist.LayerGradientSync;
import org.qoft4j.trainer.eval.Evaluator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This process's part in a data-parallel run (docs/DESIGN.md, "Data parallelism"), or a single process, for which
 * every method is a no-op or the identity. What the {@link Trainer} asks of it:
 * <ul>
 *   <li><b>data</b>: this rank's share of each global batch ({@link #loader}); its share of the eval set, with the
 *       sums combined over the ranks ({@link #evaluate});</li>
 *   <li><b>the step</b>: the global scored-token count that fixes the backward scale ({@link #sum}); the adapter
 *       gradients summed over the ranks a layer at a time ({@link #layerDone}, {@link #finishGradients}); the global
 *       loss and each rank's peak memory ({@link #stepTotals}); a per-step generator seed of this rank, so that
 *       dropout masks differ between ranks and a resumed run draws what the uninterrupted one would have;</li>
 *   <li><b>outputs</b>: rank 0 alone writes checkpoints, the adapter and metrics ({@link #writesOutputs}); after
 *       each checkpoint every rank's adapter checksum must agree, then all ranks pass a barrier, so a checkpoint
 *       that a rank calls good is complete ({@link #afterCheckpoint});</li>
 *   <li><b>faults</b>: a lost rank ends the run with its rank and the last good checkpoint named ({@link #lost}).</li>
 * </ul>
 * It joins the group when the torchrun environment contract (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, ...) names
 * more than one process, then checks, before anything is loaded, that every rank has the same settings, model files,
 * data and checkpoint to resume from.
 */
final class DataParallelRun implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DataParallelRun.class);
    /** Options that may differ between ranks: they do not change what is computed. */
    static final Set<String> PER_RANK_OPTIONS = Set.of("threads", "progress");

    private final DistEnv env;
    private final DataParallelGroup group;  // null: one process
    private LayerGradientSync sync;

    private DataParallelRun(DistEnv env, DataParallelGroup group) {
        this.env = env;
        this.group = group;
    }

    static DataParallelRun single() {
        return new DataParallelRun(DistEnv.single(), null);
    }

    /**
     * Joins the data-parallel group that {@code environment} describes (a single process when it names none), and
     * checks that every rank has the same inputs.
     *
     * @param checkModelFiles compare the model directory's fingerprint (false for a model built in memory)
     */
    static DataParallelRun fromEnvironment(TrainConfig config, Map<String, String> environment, boolean checkModelFiles) {
        Optional<DistEnv> e;
        try {
            e = DistEnv.fromEnvironment(environment);
        } catch (IllegalArgumentException x) {
            throw new ConfigException(x.getMessage(), x);
        }
        if (e.isEmpty() || !e.get().distributed()) return single();
        DistEnv env = e.get();
        LOG.info("{} (pid {}): joining the data-parallel group", env, ProcessHandle.current().pid());
        DataParallelGroup g = DataParallelGroup.join(env, options(config), device(config, env));
        DataParallelRun run = new DataParallelRun(env, g);
        try {
            run.requireSameInputs(config, checkModelFiles);
        } catch (RuntimeException x) {
            run.close();
            throw x;
        }
        LOG.info("rank {} of {} joined ({} backend); settings, model and data agree on every rank", env.rank(), env.worldSize(), g.backend());
        return run;
    }

    static DistOptions options(TrainConfig c) {
        Duration t = Duration.ofSeconds(c.distTimeout());
        return DistOptions.defaults().withBackend(DistOptions.Backend.parse(c.distBackend())).withJoinTimeout(t).withCollectiveTimeout(t);
    }

    /** {@code cuda} means {@code cuda:LOCAL_RANK} in a data-parallel run (each worker its own GPU); other names as given. */
    static Device device(TrainConfig c, DistEnv env) {
        return c.device().name().equals("cuda") && env.distributed() ? new Device("cuda:" + env.localRank()) : c.device().device();
    }

    int rank() {
        return env.rank();
    }

    int worldSize() {
        return env.worldSize();
    }

    boolean distributed() {
        return group != null;
    }

    /** Rank 0 (or the only process) writes checkpoints, the adapter and metrics.jsonl. */
    boolean writesOutputs() {
        return env.master();
    }

    /** Where this rank's model goes: {@code cuda:LOCAL_RANK} for {@code device=cuda}. */
    LoadOptions loadOptions(TrainConfig c) {
        return c.loadOptions().withDevice(device(c, env));
    }

    /**
     * libtorch threads: the configured number; else, in a data-parallel run, OMP_NUM_THREADS when set (the launchers
     * set it: ours to cores / workers, torchrun to 1), else this machine's cores divided among its workers.
     */
    int threads(TrainConfig c) {
        if (c.threads() > 0) return c.threads();
        int cores = Runtime.getRuntime().availableProcessors();
        if (!distributed()) return cores;
        try {
            int omp = Integer.parseInt(String.valueOf(System.getenv("OMP_NUM_THREADS")).trim());
            if (omp > 0) return omp;
        } catch (NumberFormatException e) {
            // not set: divide the cores
        }
        return Math.max(1, cores / env.localWorldSize());
    }

    /** This rank's loader over the training samples (every rank plans the same global batches). */
    DataLoader loader(List<Sample> train, TrainConfig c) {
        return new DataLoader(train, c.seqLen(), c.batchSize(), c.packing(), true, c.seed(), 0, env.rank(), env.worldSize());
    }

    // ---- start of training ----

    /**
     * A resumed run must keep the global batch (processes x batch-size), so that its steps see the same rows; the
     * number of processes may change with it.
     */
    void checkResume(Path checkpoint, TrainerState saved, TrainConfig savedConfig, TrainConfig now) {
        int before = Math.max(1, saved.worldSize());
        long rowsBefore = (long) before * savedConfig.batchSize(), rowsNow = (long) worldSize() * now.batchSize();
        if (rowsBefore != rowsNow) {
            String fix = rowsBefore % worldSize() == 0 ? "batch-size=" + rowsBefore / worldSize() + " with " + worldSize() + " process(es)"
                    : before + " process(es) with batch-size=" + savedConfig.batchSize();
            throw new ConfigException("cannot resume from " + checkpoint + ": it was trained by " + before + " process(es) x batch-size "
                    + savedConfig.batchSize() + " = " + rowsBefore + " rows per global micro-batch, and this run has " + worldSize() + " x "
                    + now.batchSize() + " = " + rowsNow + "; a resumed run must keep the global batch to continue the same data order and "
                    + "steps: use " + fix);
        }
        if (before != worldSize())
            LOG.info("resuming a run of {} process(es) with {}: the global batch ({} rows per micro-batch) and the data order are unchanged",
                    before, worldSize(), rowsNow);
    }

    /** Before the first step: every rank takes rank 0's adapter values, and gradients will be summed layer by layer. */
    void startTraining(LlamaModel model, AdapterSet adapters, boolean overlap) {
        if (!distributed()) return;
        group.broadcast(adapters.parameters(), 0);
        List<List<Tensor>> byLayer = new ArrayList<>();
        for (int i = 0; i < model.numLayers(); i++) {
            List<Tensor> ps = new ArrayList<>();
            for (Projection p : model.layer(i).projections().values()) if (p.adapter() != null) ps.addAll(p.adapter().parameters());
            byLayer.add(ps);
        }
        sync = new LayerGradientSync(group, byLayer, overlap);
    }

    // ---- one step ----

    /** A data-parallel rank draws its dropout masks from a generator seeded by (seed, step, rank). */
    void beginStep(int step, RngState rng, long seed) {
        if (!distributed()) return;
        rng.seed(mix(seed * 0x9E3779B97F4A7C15L + step * 1_000_003L + env.rank()));
        sync.beginStep();
    }

    /** The values summed over the ranks (exact for integers below 2^53), or the values themselves for one process. */
    long[] sum(long... values) {
        if (!distributed()) return values;
        double[] d = new double[values.length];
        for (int i = 0; i < d.length; i++) d[i] = values[i];
        double[] s = group.allReduceSum(d);
        long[] out = new long[s.length];
        for (int i = 0; i < s.length; i++) out[i] = Math.round(s[i]);
        return out;
    }

    /** The micro-batch about to run is the step's last: a layer's gradients are final when its backward ends. */
    void armLastMicroBatch() {
        if (sync != null) sync.armLastMicroBatch();
    }

    /** Called by the backward pass when layer {@code i}'s backward ended. */
    void layerDone(int i) {
        if (sync != null) sync.layerDone(i);
    }

    /** Waits until the adapter gradients are summed over the ranks (before clipping and AdamW). */
    void finishGradients() {
        if (sync != null) sync.finish();
    }

    /** The loss sum over all ranks and each rank's memory peak (by rank); one small collective. */
    record StepTotals(double nllSum, List<Long> rankPeakBytes) {}

    StepTotals stepTotals(double nllSum, long peakBytes) {
        if (!distributed()) return new StepTotals(nllSum, List.of(peakBytes));
        int w = worldSize();
        double[] slots = new double[2 * w];  // each rank fills its own slots; a sum of one value and zeros is exact
        slots[2 * rank()] = nllSum;
        slots[2 * rank() + 1] = peakBytes;
        double[] all = group.allReduceSum(slots);
        double total = 0;
        List<Long> ps = new ArrayList<>();
        for (int r = 0; r < w; r++) {  // in rank order: the same sum on every rank
            total += all[2 * r];
            ps.add(Math.round(all[2 * r + 1]));
        }
        return new StepTotals(total, ps);
    }

    /** The step's data-parallel figures for metrics.jsonl, or null for one process. */
    DataParallelMetrics metrics(StepTotals t) {
        if (!distributed()) return null;
        LayerGradientSync.StepStats s = sync.lastStep();
        return new DataParallelMetrics(worldSize(), t.rankPeakBytes(), s.bytes(), s.blockedNanos() / 1e9, s.layersLaunchedDuringBackward());
    }

    // ---- evaluation, checkpoints, faults ----

    /** Eval loss over all eval samples: each rank evaluates every W-th sample from its rank on, and the sums are combined. */
    Evaluator.Result evaluate(LlamaModel m, List<Sample> eval, TrainConfig c) {
        if (!distributed()) return Evaluator.evaluate(m, eval, c.seqLen(), c.batchSize(), c.packing());
        List<Sample> share = new ArrayList<>();
        for (int i = rank(); i < eval.size(); i += worldSize()) share.add(eval.get(i));
        Evaluator.Sums mine = Evaluator.sums(m, share, c.seqLen(), c.batchSize(), c.packing());
        int w = worldSize();
        double[] slots = new double[5 * w];
        double[] v = {mine.nllSum(), mine.tokens(), mine.samples(), mine.batches(), mine.truncated()};
        System.arraycopy(v, 0, slots, 5 * rank(), 5);
        double[] all = group.allReduceSum(slots);
        double nll = 0, tokens = 0, samples = 0, batches = 0, truncated = 0;
        for (int r = 0; r < w; r++) {
            nll += all[5 * r];
            tokens += all[5 * r + 1];
            samples += all[5 * r + 2];
            batches += all[5 * r + 3];
            truncated += all[5 * r + 4];
        }
        return new Evaluator.Sums(nll, Math.round(tokens), (int) samples, (int) batches, (int) truncated).result();
    }

    /**
     * After rank 0 saved checkpoint {@code step}: every rank's adapter checksum must agree (logged on each rank), then
     * all ranks pass a barrier, so a rank that goes on knows the checkpoint is complete.
     */
    void afterCheckpoint(AdapterSet adapters, int step) {
        if (!distributed()) return;
        byte[] sum = checksum(adapters.parameters());
        LOG.info("adapter checksum at step {}: {}", step, HexFormat.of().formatHex(sum));
        group.requireSameOnAllRanks("adapter checksum at step " + step + " (every rank must hold the same adapter)", sum);
        group.barrier();
    }

    /** The failure of a collective with what to do next: the rank that was lost and the last good checkpoint. */
    CollectiveFailedException lost(CollectiveFailedException e, Path lastCheckpoint, TrainConfig c) {
        String where = lastCheckpoint == null ? "No checkpoint was saved before it (set save-every to keep one)"
                : "The last good checkpoint is " + lastCheckpoint + "; continue with --resume " + c.out() + " (with " + worldSize()
                  + " processes, or any number that keeps processes x batch-size = " + (long) worldSize() * c.batchSize() + ")";
        return new CollectiveFailedException(e.rank(), e.lostRanks(), "training stopped: " + e.getMessage() + ". " + where, e);
    }

    /** SHA-256 of the adapter tensors' float32 values, in order. */
    static byte[] checksum(List<Tensor> params) {
        MessageDigest d;
        try {
            d = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (PointerScope scope = new PointerScope()) {
            for (Tensor p : params) {
                float[] v = Tensors.toFloats(p);
                ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(v);
                d.update(b);
            }
        }
        return d.digest();
    }

    /** The configuration as every rank must have it: all options but {@link #PER_RANK_OPTIONS}. */
    static String comparableConfig(TrainConfig c) {
        ObjectNode n = TrainConfigIO.YAML.valueToTree(c);
        n.remove(PER_RANK_OPTIONS);
        return n.toString();
    }

    @Override
    public void close() {
        if (sync != null) sync.close();
        if (group != null) group.close();
    }

    private void requireSameInputs(TrainConfig c, boolean checkModelFiles) {
        group.requireSameOnAllRanks("configuration (every option but " + String.join(" and ", PER_RANK_OPTIONS) + ")", Fingerprint.of(comparableConfig(c)));
        if (checkModelFiles && Files.isDirectory(c.modelDir()))
            group.requireSameOnAllRanks("model files in " + c.model(), Fingerprint.ofModelDirectory(c.modelDir()));
        group.requireSameOnAllRanks("training data " + c.data(), Fingerprint.ofFile(Path.of(c.data())));
        if (c.evalData() != null) group.requireSameOnAllRanks("eval data " + c.evalData(), Fingerprint.ofFile(Path.of(c.evalData())));
        if (c.resume() != null) {
            Path from = Checkpointer.resolve(Path.of(c.resume()));
            group.requireSameOnAllRanks("checkpoint to resume from (" + from + ")", Fingerprint.of(from.getFileName() + "\n"
                    + HexFormat.of().formatHex(Fingerprint.ofModelDirectory(from))));
        }
    }

    /** SplitMix64's finalizer: neighbouring (step, rank) pairs get unrelated seeds. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
