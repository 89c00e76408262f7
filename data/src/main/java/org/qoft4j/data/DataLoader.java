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
 */
public final class DataLoader {
    private final List<Sample> samples;
    private final int seqLen;
    private final int batchSize;
    private final boolean packing;
    private final boolean shuffle;
    private final long seed;
    private final long padId;

    private int epoch;
    private int position;
    private List<List<List<Sample>>> plan; // this epoch: batches of rows of samples
    private int planEpoch = -1;
    private int truncated;

    /**
     * @param padId id placed in padding (never attended to or scored; any valid id works)
     */
    public DataLoader(List<Sample> samples, int seqLen, int batchSize, boolean packing, boolean shuffle, long seed, long padId) {
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

    /** Batches in the current epoch. */
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
        return toBatch(plan(epoch).get(position++));
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
        for (int i = 0; i < rows.size(); i += batchSize) batches.add(rows.subList(i, Math.min(rows.size(), i + batchSize)));
        plan = batches;
        planEpoch = e;
        return plan;
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
