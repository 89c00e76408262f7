package org.qoft4j.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Endless batches over samples, epoch after epoch. Each epoch's sample order is a shuffle seeded by
 * {@code (seed, epoch)} (or file order without shuffling); samples are then laid into rows of at most
 * {@code seqLen} tokens — several per row with packing (the default: no compute is spent on padding, and
 * attention and positions stay per sample), or one per row with padding — and rows into batches of
 * {@code batchSize} (the epoch's last batch may be smaller). Rows are padded to the longest row in their batch.
 * Samples longer than {@code seqLen} are truncated (counted in {@link #truncated()}).
 *
 * <p><b>Data parallelism</b> (DistributedSampler semantics, applied to rows): with {@code worldSize} W &gt; 1 every
 * rank plans the same epoch (same seed, same shuffle, same packing into rows), groups the rows into <i>global</i>
 * batches of {@code W * batchSize} rows, and rank k takes the k-th slice of {@code batchSize} rows of each, so the ranks'
 * shares are disjoint and together are exactly the batch a single process with batch size {@code W * batchSize}
 * would see. The epoch's last global batch, when it has fewer rows, is split as evenly as possible (shares differ by
 * at most one row; the trainer weights the loss by scored tokens, so uneven shares are exact); when it has fewer
 * rows than there are ranks it is dropped (at most W - 1 rows per epoch: padding by repeating rows, as
 * DistributedSampler does, would count them twice). {@link #batchesPerEpoch()} and the {@link DataCursor} count
 * global batches, the same on every rank.
 */
public final class DataLoader {
    private final List<Sample> samples;
    private final int seqLen;
    private final int batchSize;
    private final boolean packing;
    private final boolean shuffle;
    private final long seed;
    private final long padId;
    private final int rank;
    private final int worldSize;

    private int epoch;
    private int position;
    private List<List<List<Sample>>> plan; // this epoch: batches of rows of samples
    private int planEpoch = -1;
    private int truncated;

    /**
     * @param padId id placed in padding (never attended to or scored; any valid id works)
     */
    public DataLoader(List<Sample> samples, int seqLen, int batchSize, boolean packing, boolean shuffle, long seed, long padId) {
        this(samples, seqLen, batchSize, packing, shuffle, seed, padId, 0, 1);
    }

    /**
     * Rank {@code rank}'s share of a data-parallel run of {@code worldSize} processes (see the class comment); rank 0
     * of 1 is the single-process loader.
     *
     * @param batchSize rows per batch of this rank (a global batch has {@code worldSize * batchSize})
     */
    public DataLoader(List<Sample> samples, int seqLen, int batchSize, boolean packing, boolean shuffle, long seed, long padId, int rank,
                      int worldSize) {
        if (worldSize < 1 || rank < 0 || rank >= worldSize)
            throw new IllegalArgumentException("rank " + rank + " of world size " + worldSize + ": need 0 <= rank < world size");
        if (samples.isEmpty()) throw new IllegalArgumentException("no samples to batch");
        if (seqLen < 2) throw new IllegalArgumentException("sequence length must be >= 2, got " + seqLen);
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        this.samples = List.copyOf(samples);
        this.seqLen = seqLen;
        this.batchSize = batchSize;
        this.packing = packing;
        this.shuffle = shuffle;
        this.seed = seed;
        this.padId = padId;
        this.rank = rank;
        this.worldSize = worldSize;
    }

    public DataCursor cursor() {
        return new DataCursor(epoch, position);
    }

    /** Continue from {@code c} (as saved by {@link #cursor()} from a loader over the same samples and settings). */
    public void seek(DataCursor c) {
        if (c.position() > batchesIn(c.epoch()))
            throw new IllegalArgumentException("cursor " + c + " is past the end of epoch " + c.epoch() + " (" + batchesIn(c.epoch()) + " batches)");
        epoch = c.epoch();
        position = c.position();
    }

    /** Batches in the current epoch (global batches when data-parallel: the same number on every rank). */
    public int batchesPerEpoch() {
        return batchesIn(epoch);
    }

    /** Samples truncated to seqLen so far (each counted once per epoch planned). */
    public int truncated() {
        return truncated;
    }

    /** The next batch; after an epoch's last batch the next epoch begins (with a new order when shuffling). */
    public Batch next() {
        if (position >= batchesIn(epoch)) {
            epoch++;
            position = 0;
        }
        return toBatch(share(plan(epoch).get(position++)));
    }

    /** True while the current epoch has batches left. */
    public boolean hasNextInEpoch() {
        return position < batchesIn(epoch);
    }

    private int batchesIn(int e) {
        return plan(e).size();
    }

    private List<List<List<Sample>>> plan(int e) {
        if (planEpoch == e) return plan;
        List<Sample> order = new ArrayList<>(samples);
        if (shuffle) Collections.shuffle(order, new Random(seed * 1_000_003L + e));
        List<List<Sample>> rows = new ArrayList<>();
        List<Sample> row = new ArrayList<>();
        int used = 0;
        for (Sample s : order) {
            if (s.length() > seqLen) {
                s = s.truncate(seqLen);
                truncated++;
            }
            if (!row.isEmpty() && (!packing || used + s.length() > seqLen)) {
                rows.add(row);
                row = new ArrayList<>();
                used = 0;
            }
            row.add(s);
            used += s.length();
        }
        rows.add(row);
        List<List<List<Sample>>> batches = new ArrayList<>();
        int global = batchSize * worldSize;
        for (int i = 0; i < rows.size(); i += global) {
            List<List<Sample>> b = rows.subList(i, Math.min(rows.size(), i + global));
            if (b.size() >= worldSize) batches.add(b); // a tail with fewer rows than ranks is dropped (class comment)
        }
        if (batches.isEmpty())
            throw new IllegalArgumentException("the data packs into " + rows.size() + " row(s) of " + seqLen + " tokens, fewer than the " + worldSize
                    + " ranks of this run: every rank needs at least one row per batch");
        plan = batches;
        planEpoch = e;
        return plan;
    }

    /** This rank's slice of a global batch: rows [k*b, (k+1)*b) of a full one, an even split of a short one. */
    private List<List<Sample>> share(List<List<Sample>> global) {
        if (worldSize == 1) return global;
        int n = global.size();
        if (n == batchSize * worldSize) return global.subList(rank * batchSize, (rank + 1) * batchSize);
        return global.subList((int) ((long) rank * n / worldSize), (int) ((long) (rank + 1) * n / worldSize));
    }

    private Batch toBatch(List<List<Sample>> rows) {
        int t = 0;
        for (List<Sample> r : rows) t = Math.max(t, r.stream().mapToInt(Sample::length).sum());
        int b = rows.size();
        long[][] ids = new long[b][t], labels = new long[b][t], pos = new long[b][t], seq = new long[b][t];
        for (int i = 0; i < b; i++) {
            Arrays.fill(ids[i], padId);
            Arrays.fill(labels[i], Sample.IGNORE);
            Arrays.fill(seq[i], -1);
            int at = 0, sid = 0;
            for (Sample s : rows.get(i)) {
                for (int j = 0; j < s.length(); j++) {
                    ids[i][at + j] = s.inputIds()[j];
                    labels[i][at + j] = j == 0 ? Sample.IGNORE : s.labels()[j];
                    pos[i][at + j] = j;
                    seq[i][at + j] = sid;
                }
                at += s.length();
                sid++;
            }
        }
        return new Batch(ids, labels, pos, seq);
    }
}
