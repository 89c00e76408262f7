package org.qoft4j.trainer.dist;

import java.io.IOException;
import java.net.ConnectException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllgatherOptions;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.Backend;
import org.bytedeco.pytorch.BarrierOptions;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.GlooDeviceVector;
import org.bytedeco.pytorch.IntOptional;
import org.bytedeco.pytorch.PrefixStore;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.ReduceOp;
import org.bytedeco.pytorch.Store;
import org.bytedeco.pytorch.StringVector;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.Tensors;

/**
 * The processes of one data-parallel run, joined into a c10d process group: rank 0 serves a {@code TCPStore} at
 * MASTER_ADDR:MASTER_PORT, every rank connects to it, and the backend (Gloo, or NCCL on CUDA) connects the ranks to
 * each other through it. Offers the collectives the training loop needs: a bucketed asynchronous all-reduce of
 * gradients, an all-reduce of a few scalars, broadcast, barrier, and an all-gather of small byte strings to check
 * that all ranks agree (configuration and model hashes).
 *
 * <p>Every collective is bounded by the collective timeout. When one fails (a peer died or hangs) the group asks the
 * others, through the store, who is still alive, and throws a {@link CollectiveFailedException} naming the ranks
 * that did not answer; the group is unusable after that.
 *
 * <p>Not thread-safe: one thread (the training loop) issues the collectives, in the same order on every rank.
 */
public final class DataParallelGroup implements AutoCloseable {

    private final DistEnv env;
    private final DistOptions options;
    private final DistOptions.Backend backendKind;  // resolved: GLOO or NCCL
    private final Device device;                     // where the group's own small tensors live
    private final Store store;      // an owning handle on the TCPStore (rank 0 serves it)
    private final Backend backend;
    private final BufferPool buffers = new BufferPool();
    private final AtomicLong allReduceBytes = new AtomicLong(), allReduceBlockedNanos = new AtomicLong(), allReduceCalls = new AtomicLong();
    private CollectiveFailedException failure;
    private boolean closed;

    private DataParallelGroup(DistEnv env, DistOptions options, DistOptions.Backend backendKind, Device device, Store store, Backend backend) {
        this.env = env;
        this.options = options;
        this.backendKind = backendKind;
        this.device = device;
        this.store = store;
        this.backend = backend;
    }

    /** Joins with the group's own small tensors on the CPU (Gloo). */
    public static DataParallelGroup join(DistEnv env, DistOptions options) {
        return join(env, options, new Device("cpu"));
    }

    /**
     * Joins the group described by {@code env}: blocks until every rank has joined or the join timeout passed.
     *
     * @param device the device of the tensors the trainer will reduce ({@code cuda:LOCAL_RANK} or cpu); the group's
     *               scalar and all-gather tensors live there too, and with {@link DistOptions.Backend#AUTO} a CUDA
     *               device selects NCCL when its natives load
     * @throws GroupJoinException when the master's port is in use, the master is unreachable, a rank does not join in
     *                            time, or the backend is missing; the message says which and what to do
     */
    public static DataParallelGroup join(DistEnv env, DistOptions options, Device device) {
        long deadline = System.nanoTime() + options.joinTimeout().toNanos();
        DistOptions.Backend kind = Rendezvous.resolveBackend(options.backend(), device);
        InetAddress master = Rendezvous.resolveMaster(env);
        // Ownership. The presets hand a Java-made c10d object to C++ by adopting it, once per object, and the adopted
        // object then keeps one reference for good (measured: freeing the adopting PrefixStore does not free the
        // TCPStore), while freeing its Java handle deletes it outright under the C++ holders. So the TCPStore and
        // the backend's PrefixStore are pinned (never freed from Java: not by a PointerScope, not by the garbage
        // collector) and live until the process exits; rank 0's store serves that long. `store` is an owning handle
        // (a C++ intrusive_ptr copy) for our own keys.
        TCPStore tcp = Rendezvous.openStore(env, master, options.joinTimeout(), deadline);
        PrefixStore pgStore = Rendezvous.pin(new PrefixStore(Rendezvous.PG_PREFIX, Rendezvous.pin(tcp)));
        Store store = pgStore.getUnderlyingStore().retainReference();
        try {
            store.set(Rendezvous.JOINED_PREFIX + env.rank(), "1");
            Backend backend = kind == DistOptions.Backend.NCCL ? Rendezvous.NcclSupport.create(pgStore, env, options)
                    : Rendezvous.createGloo(pgStore, env, master, options, Rendezvous.remaining(deadline));
            backend.retainReference();
            // after joining, a store that does not answer (rank 0's machine is gone) should not stall the fault report;
            // not with NCCL, which connects its ranks through the store lazily, at the first collective
            if (kind == DistOptions.Backend.GLOO) store.setTimeout(Rendezvous.millis(options.faultReportWait()));
            return new DataParallelGroup(env, options, kind, device, store, backend);
        } catch (RuntimeException e) {
            String missing = Rendezvous.missingRanks(store, env);
            store.releaseReference();
            if (e instanceof GroupJoinException g) throw g;
            throw new GroupJoinException("rank " + env.rank() + ": the group of " + env.worldSize() + " did not form within "
                    + Rendezvous.seconds(options.joinTimeout()) + (missing.isEmpty() ? "" : "; not joined: " + missing) + ": " + Rendezvous.firstLine(e), e);
        }
    }

    public DistEnv env() {
        return env;
    }

    public int rank() {
        return env.rank();
    }

    public int worldSize() {
        return env.worldSize();
    }

    /** The backend actually in use: GLOO or NCCL. */
    public DistOptions.Backend backend() {
        return backendKind;
    }

    public DistOptions options() {
        return options;
    }

    /**
     * Starts summing {@code tensors} over all ranks: they are copied into flat buckets of at most
     * {@link DistOptions#bucketBytes()} (grouped by dtype and device, in order) and each bucket's all-reduce is launched
     * at once. Every rank must pass tensors of the same shapes in the same order.
     *
     * @return the handle whose {@link PendingAllReduce#await()} writes the sums back into {@code tensors}
     */
    public PendingAllReduce allReduceSumAsync(List<Tensor> tensors) {
        checkUsable("all-reduce");
        List<FlatBucket> buckets = FlatBucket.pack(tensors, options.bucketBytes(), buffers);
        List<Work> works = new ArrayList<>(buckets.size());
        try (PointerScope scope = new PointerScope()) {
            AllreduceOptions o = new AllreduceOptions();
            o.reduceOp(new ReduceOp(ReduceOp.RedOpType.SUM));
            o.timeout(Rendezvous.millis(options.collectiveTimeout()));
            for (FlatBucket b : buckets) {
                works.add(launch("all-reduce", () -> backend.allreduce(new TensorVector(b.flat()), o)).retainReference());
                allReduceBytes.addAndGet(b.bytes());
            }
        } catch (RuntimeException e) {
            for (FlatBucket b : buckets) b.release(false);
            for (Work w : works) w.releaseReference();
            throw e;
        }
        allReduceCalls.incrementAndGet();
        return new PendingAllReduce(this, buckets, works);
    }

    /** One c10d all-reduce (sum) of one contiguous tensor in place, without bucket copies; blocks (what a bucket costs on the wire). */
    public void allReduceInPlace(Tensor flat) {
        checkUsable("all-reduce");
        try (PointerScope scope = new PointerScope()) {
            AllreduceOptions o = new AllreduceOptions();
            o.reduceOp(new ReduceOp(ReduceOp.RedOpType.SUM));
            o.timeout(Rendezvous.millis(options.collectiveTimeout()));
            awaitWork(launch("all-reduce", () -> backend.allreduce(new TensorVector(flat), o)), "all-reduce");
        }
    }

    /** Sums {@code tensors} over all ranks in place; blocks. */
    public void allReduceSum(List<Tensor> tensors) {
        try (PendingAllReduce p = allReduceSumAsync(tensors)) {
            p.await();
        }
    }

    /**
     * Sums a few numbers over all ranks (scored-token counts, loss sums) in one small float64 collective; exact for
     * integers below 2^53.
     */
    public double[] allReduceSum(double... values) {
        checkUsable("scalar all-reduce");
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Tensors.of(values, values.length).to(device, ScalarType.Double);
            allReduceSum(List.of(t));
            return Tensors.toDoubles(t);
        }
    }

    /** Overwrites {@code tensors} on every rank with {@code root}'s values; blocks. */
    public void broadcast(List<Tensor> tensors, int root) {
        checkUsable("broadcast");
        if (root < 0 || root >= worldSize()) throw new IllegalArgumentException("broadcast root " + root + " is not a rank of 0.." + (worldSize() - 1));
        List<FlatBucket> buckets = FlatBucket.pack(tensors, options.bucketBytes(), buffers);
        boolean completed = false;
        try (PointerScope scope = new PointerScope()) {
            BroadcastOptions o = new BroadcastOptions();
            o.rootRank(root);
            o.timeout(Rendezvous.millis(options.collectiveTimeout()));
            List<Work> works = new ArrayList<>();
            for (FlatBucket b : buckets) works.add(launch("broadcast", () -> backend.broadcast(new TensorVector(b.flat()), o)));
            for (int i = 0; i < works.size(); i++) {
                awaitWork(works.get(i), "broadcast");
                if (rank() != root) buckets.get(i).unpack();
            }
            completed = true;
        } finally {
            for (FlatBucket b : buckets) b.release(completed);
        }
    }

    /** Returns once every rank has called it (or throws after the collective timeout). */
    public void barrier() {
        checkUsable("barrier");
        try (PointerScope scope = new PointerScope()) {
            BarrierOptions o = new BarrierOptions();
            o.timeout(Rendezvous.millis(options.collectiveTimeout()));
            if (device.is_cuda()) o.device(new DeviceOptional(device));
            awaitWork(launch("barrier", () -> backend.barrier(o)), "barrier");
        }
    }

    /** Every rank's {@code value}, indexed by rank. */
    public long[] allGather(long value) {
        checkUsable("all-gather");
        try (PointerScope scope = new PointerScope()) {
            Tensor in = Tensors.ofLongs(new long[] {value}, 1).to(device, ScalarType.Long);
            Tensor out = torch.zeros(new long[] {worldSize()}, new TensorOptions(ScalarType.Long).device(new DeviceOptional(device)));
            gather(out, in);
            return Tensors.toLongs(out);
        }
    }

    /** Every rank's {@code value} (any length), indexed by rank. */
    public List<byte[]> allGather(byte[] value) {
        long[] lengths = allGather(value.length);
        int max = 0;
        for (long n : lengths) max = Math.max(max, Math.toIntExact(n));
        try (PointerScope scope = new PointerScope()) {
            byte[] padded = java.util.Arrays.copyOf(value, Math.max(max, 1));
            Tensor in = Tensors.ofBytes(padded, padded.length).to(device, ScalarType.Byte);
            Tensor out = torch.zeros(new long[] {(long) worldSize() * padded.length}, new TensorOptions(ScalarType.Byte).device(new DeviceOptional(device)));
            gather(out, in);
            byte[] all = Tensors.toBytes(out);
            List<byte[]> result = new ArrayList<>(worldSize());
            for (int r = 0; r < worldSize(); r++) result.add(java.util.Arrays.copyOfRange(all, r * padded.length, r * padded.length + (int) lengths[r]));
            return result;
        }
    }

    /**
     * Checks that every rank holds the same {@code value} (e.g. a SHA-256 of the configuration or of the model files).
     *
     * @param what names the value in the message, e.g. "configuration hash"
     * @throws RanksDisagreeException on every rank when they differ; the message names the ranks whose value differs
     *                                from rank 0's
     */
    public void requireSameOnAllRanks(String what, byte[] value) {
        List<byte[]> all = allGather(value);
        Map<String, List<Integer>> byValue = new LinkedHashMap<>();
        for (int r = 0; r < all.size(); r++) byValue.computeIfAbsent(HexFormat.of().formatHex(all.get(r)), k -> new ArrayList<>()).add(r);
        if (byValue.size() == 1) return;
        String reference = HexFormat.of().formatHex(all.get(0));
        List<Integer> differ = new ArrayList<>();
        StringBuilder detail = new StringBuilder();
        for (Map.Entry<String, List<Integer>> e : byValue.entrySet()) {
            if (!e.getKey().equals(reference)) differ.addAll(e.getValue());
            detail.append(detail.length() == 0 ? "" : "; ").append(e.getValue().size() == 1 ? "rank " : "ranks ")
                    .append(Rendezvous.ranks(e.getValue())).append(": ").append(Rendezvous.abbreviate(e.getKey()));
        }
        differ.sort(null);
        throw new RanksDisagreeException("the ranks disagree on the " + what + ": " + (differ.size() == 1 ? "rank " : "ranks ") + Rendezvous.ranks(differ)
                + " differ" + (differ.size() == 1 ? "s" : "") + " from rank 0 (" + detail + "); every rank must start with the same settings and files",
                byValue);
    }

    /** Totals since the group formed: asynchronous all-reduce calls, bytes they carried, and time spent blocked in await. */
    public record Stats(long allReduceCalls, long allReduceBytes, long allReduceBlockedNanos) {}

    public Stats stats() {
        return new Stats(allReduceCalls.get(), allReduceBytes.get(), allReduceBlockedNanos.get());
    }

    /**
     * Leaves the group: frees the backend (its threads and connections to the peers). Call on every rank at the end,
     * after a final barrier. The rendezvous store stays until the process exits (see join), so a later group in the
     * same process needs another port.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        backend.releaseReference();  // deletes the backend (made in Java, never adopted by C++)
        buffers.close();
        store.releaseReference();    // drops our intrusive_ptr copy
    }

    // ---- package-private plumbing for PendingAllReduce ----

    void awaitWork(Work work, String op) {
        long t0 = System.nanoTime();
        try {
            work._wait();
        } catch (RuntimeException e) {
            throw failed(op, e, System.nanoTime() - t0);
        }
    }

    void addBlockedNanos(long nanos) {
        allReduceBlockedNanos.addAndGet(nanos);
    }

    // ---- failures ----

    private interface Launch {
        Work get();
    }

    private Work launch(String op, Launch l) {
        try {
            return l.get();
        } catch (RuntimeException e) {
            throw failed(op, e, 0);
        }
    }

    private void gather(Tensor out, Tensor in) {
        AllgatherOptions o = new AllgatherOptions();
        o.timeout(Rendezvous.millis(options.collectiveTimeout()));
        awaitWork(launch("all-gather", () -> backend._allgather_base(out, in, o)), "all-gather");
    }

    private void checkUsable(String op) {
        if (closed) throw new IllegalStateException(op + " on a closed group");
        if (failure != null)
            throw new IllegalStateException("the group is unusable after an earlier failure (" + failure.getMessage() + ")", failure);
    }

    /**
     * After a collective failed on this rank: records it in the store, waits up to the fault-report wait for the
     * other ranks to record theirs, and names those that did not (dead, hung, unreachable). If the store itself no
     * longer answers, rank 0 (which serves it) is gone.
     */
    private synchronized CollectiveFailedException failed(String op, RuntimeException cause, long elapsedNanos) {
        if (failure != null) return failure;
        TreeSet<Integer> silent = new TreeSet<>();
        for (int r = 0; r < worldSize(); r++) if (r != rank()) silent.add(r);
        boolean storeGone = false;
        try {
            store.set(Rendezvous.FAULT_PREFIX + rank(), Rendezvous.firstLine(cause));
            long deadline = System.nanoTime() + options.faultReportWait().toNanos();
            while (!silent.isEmpty() && System.nanoTime() < deadline) {
                silent.removeIf(r -> store.check(new StringVector(Rendezvous.FAULT_PREFIX + r)));
                if (!silent.isEmpty()) Thread.sleep(50);
            }
        } catch (RuntimeException e) {
            storeGone = true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (storeGone && rank() != 0) silent.add(0);
        String verdict;
        if (silent.isEmpty())
            verdict = "every other rank is alive and saw a failure too";
        else
            verdict = (silent.size() == 1 ? "rank " : "ranks ") + Rendezvous.ranks(new ArrayList<>(silent)) + (silent.size() == 1 ? " is" : " are")
                    + " lost (died, was killed or ran out of memory, hangs, or cannot be reached): "
                    + (storeGone ? "the rendezvous store on rank 0 no longer answers" : "no report within " + Rendezvous.seconds(options.faultReportWait()));
        failure = new CollectiveFailedException(rank(), silent, String.format(Locale.ROOT, "%s failed on rank %d of %d after %.1f s (collective timeout %s): %s; %s",
                op, rank(), worldSize(), elapsedNanos / 1e9, Rendezvous.seconds(options.collectiveTimeout()), Rendezvous.firstLine(cause), verdict), cause);
        return failure;
    }
}
