package org.qoft4j.trainer.dist;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.core.Tensors;

/**
 * Several tensors of one dtype on one device copied into one flat tensor, so that one collective carries them all
 * (as DDP's gradient buckets): {@code flat[offset_i : offset_i + numel_i] = members_i.flatten()}.
 *
 * <p>The bucket outlives the {@link PointerScope} it was made in: a collective launched inside a layer's scope
 * completes after that scope closed. It holds its own references (JavaCPP reference counts) until {@link #release(boolean)}.
 */
final class FlatBucket {
    private final Tensor flat;          // [sum of numel] dtype and device of the members
    private final List<Tensor> members; // detached aliases of the caller's tensors (same storage)
    private final long[] offsets;
    private final BufferPool pool;      // where flat came from and goes back to
    private final String poolKey;

    private FlatBucket(Tensor flat, List<Tensor> members, long[] offsets, BufferPool pool, String poolKey) {
        this.flat = flat;
        this.members = members;
        this.offsets = offsets;
        this.pool = pool;
        this.poolKey = poolKey;
    }

    /** The flat tensor that the collective reads and writes. */
    Tensor flat() {
        return flat;
    }

    long bytes() {
        return flat.nbytes();
    }

    /**
     * Packs {@code tensors} in order into buckets of at most {@code capBytes}; a bucket also ends where the dtype or
     * device changes, and a tensor larger than the cap gets a bucket of its own (tensors are never split).
     */
    static List<FlatBucket> pack(List<Tensor> tensors, long capBytes, BufferPool pool) {
        List<FlatBucket> buckets = new ArrayList<>();
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            List<Tensor> run = new ArrayList<>();
            long runBytes = 0;
            for (int i = 0; i < tensors.size(); i++) {
                Tensor t = tensors.get(i);
                if (t == null || t.isNull() || !t.defined())
                    throw new IllegalArgumentException("tensor " + i + " of " + tensors.size() + " is undefined (a gradient that was never computed?)");
                if (!run.isEmpty() && (runBytes + t.nbytes() > capBytes || !compatible(run.get(0), t))) {
                    buckets.add(of(run, pool));
                    run.clear();
                    runBytes = 0;
                }
                run.add(t);
                runBytes += t.nbytes();
            }
            if (!run.isEmpty()) buckets.add(of(run, pool));
        }
        return buckets;
    }

    /** Copies the flat tensor's values back into the members (after an all-reduce or a broadcast). */
    void unpack() {
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            for (int i = 0; i < members.size(); i++) {
                Tensor m = members.get(i);
                m.copy_(flat.narrow(0, offsets[i], m.numel()).view_as(m));
            }
        }
    }

    /**
     * Drops this bucket's references; the caller's tensors stay as they are.
     *
     * @param reusable true when no collective is still using the flat tensor (it completed): it goes back to the
     *                 pool; false (abandoned or failed) drops it, and the backend frees it when done with it
     */
    void release(boolean reusable) {
        if (reusable) pool.release(flat, poolKey);
        else flat.releaseReference();
        for (Tensor m : members) m.releaseReference();
    }

    private static FlatBucket of(List<Tensor> run, BufferPool pool) {
        long total = 0;
        long[] offsets = new long[run.size()];
        for (int i = 0; i < run.size(); i++) {
            offsets[i] = total;
            total += run.get(i).numel();
        }
        Tensor first = run.get(0);
        String key = Tensors.dtype(first) + "@" + first.device().str().getString() + "#" + total;
        Tensor flat = pool.acquire(first.options(), total, key);
        List<Tensor> members = new ArrayList<>(run.size());
        for (int i = 0; i < run.size(); i++) {
            Tensor m = run.get(i).detach().retainReference();
            members.add(m);
            flat.narrow(0, offsets[i], m.numel()).copy_(m.reshape(-1));
        }
        return new FlatBucket(flat, members, offsets, pool, key);
    }

    private static boolean compatible(Tensor a, Tensor b) {
        return Tensors.dtype(a) == Tensors.dtype(b) && a.device().equals(b.device());
    }
}
