package org.qoft4j.trainer.dist;

import java.util.List;
import org.bytedeco.pytorch.Work;

/**
 * An all-reduce in flight, from {@link DataParallelGroup#allReduceSumAsync}: its buckets travel on the backend's
 * threads while the caller computes. {@link #await()} waits for them and writes the sums into the tensors that were
 * given; until then those tensors must not be changed (their values were copied when the all-reduce started, and
 * await overwrites them).
 */
public final class PendingAllReduce implements AutoCloseable {
    private final DataParallelGroup group;
    private final List<FlatBucket> buckets;
    private final List<Work> works;  // works.get(i) reduces buckets.get(i)
    private final long bytes;
    private long blockedNanos;
    private boolean finished;

    PendingAllReduce(DataParallelGroup group, List<FlatBucket> buckets, List<Work> works) {
        this.group = group;
        this.buckets = buckets;
        this.works = works;
        long b = 0;
        for (FlatBucket f : buckets) b += f.bytes();
        this.bytes = b;
    }

    /**
     * Waits until every bucket is reduced and copies the sums into the given tensors. Idempotent.
     *
     * @throws CollectiveFailedException when a peer died or hung (the message names it)
     */
    public void await() {
        if (finished) return;
        long t0 = System.nanoTime();
        boolean ok = false;
        try {
            for (int i = 0; i < works.size(); i++) {
                group.awaitWork(works.get(i), "all-reduce");
                buckets.get(i).unpack();
            }
            ok = true;
        } finally {
            blockedNanos = System.nanoTime() - t0;
            group.addBlockedNanos(blockedNanos);
            finish(ok);
        }
    }

    /** True when every bucket's collective has completed (successfully or not); never blocks. */
    public boolean isCompleted() {
        if (finished) return true;
        for (Work w : works) if (!w.isCompleted()) return false;
        return true;
    }

    /** Bytes this all-reduce carries (the flattened tensors, once). */
    public long bytes() {
        return bytes;
    }

    /** Number of buckets (collectives) it was split into. */
    public int bucketCount() {
        return buckets.size();
    }

    /**
     * How long {@link #await()} blocked: the part of the communication that the caller's work did not hide (0 before
     * await).
     */
    public long blockedNanos() {
        return blockedNanos;
    }

    /**
     * Drops the handle's native references. Without a prior {@link #await()} the sums are abandoned (the backend
     * still completes the collectives, holding its own references to the buffers).
     */
    @Override
    public void close() {
        finish(false);
    }

    private void finish(boolean completed) {
        if (finished) return;
        finished = true;
        for (FlatBucket b : buckets) b.release(completed);
        for (Work w : works) w.releaseReference();
    }
}
