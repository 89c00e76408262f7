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
import org.qoft4j.quant.Tensors;

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
    private static final String PG_PREFIX = "qoft4j/pg/", JOINED_PREFIX = "qoft4j/joined/", FAULT_PREFIX = "qoft4j/fault/";

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
        DistOptions.Backend kind = resolveBackend(options.backend(), device);
        InetAddress master = resolveMaster(env);
        // Ownership. The presets hand a Java-made c10d object to C++ by adopting it, once per object, and the adopted
        // object then keeps one reference for good (measured: freeing the adopting PrefixStore does not free the
        // TCPStore), while freeing its Java handle deletes it outright under the C++ holders. So the TCPStore and
        // the backend's PrefixStore are pinned (never freed from Java: not by a PointerScope, not by the garbage
        // collector) and live until the process exits; rank 0's store serves that long. `store` is an owning handle
        // (a C++ intrusive_ptr copy) for our own keys.
        TCPStore tcp = openStore(env, master, options.joinTimeout(), deadline);
        PrefixStore pgStore = pin(new PrefixStore(PG_PREFIX, pin(tcp)));
        Store store = pgStore.getUnderlyingStore().retainReference();
        try {
            store.set(JOINED_PREFIX + env.rank(), "1");
            Backend backend = kind == DistOptions.Backend.NCCL ? NcclSupport.create(pgStore, env, options)
                    : createGloo(pgStore, env, master, options, remaining(deadline));
            backend.retainReference();
            // after joining, a store that does not answer (rank 0's machine is gone) should not stall the fault report;
            // not with NCCL, which connects its ranks through the store lazily, at the first collective
            if (kind == DistOptions.Backend.GLOO) store.setTimeout(millis(options.faultReportWait()));
            return new DataParallelGroup(env, options, kind, device, store, backend);
        } catch (RuntimeException e) {
            String missing = missingRanks(store, env);
            store.releaseReference();
            if (e instanceof GroupJoinException g) throw g;
            throw new GroupJoinException("rank " + env.rank() + ": the group of " + env.worldSize() + " did not form within "
                    + seconds(options.joinTimeout()) + (missing.isEmpty() ? "" : "; not joined: " + missing) + ": " + firstLine(e), e);
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
            o.timeout(millis(options.collectiveTimeout()));
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

    /** One c10d all-reduce (sum) of a contiguous tensor in place, no bucket copies; blocks. For benchmarks. */
    void allReduceRaw(Tensor flat) {
        checkUsable("all-reduce");
        try (PointerScope scope = new PointerScope()) {
            AllreduceOptions o = new AllreduceOptions();
            o.reduceOp(new ReduceOp(ReduceOp.RedOpType.SUM));
            o.timeout(millis(options.collectiveTimeout()));
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
            o.timeout(millis(options.collectiveTimeout()));
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
            o.timeout(millis(options.collectiveTimeout()));
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
                    .append(join(e.getValue())).append(": ").append(abbreviate(e.getKey()));
        }
        differ.sort(null);
        throw new RanksDisagreeException("the ranks disagree on the " + what + ": " + (differ.size() == 1 ? "rank " : "ranks ") + join(differ)
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
        o.timeout(millis(options.collectiveTimeout()));
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
            store.set(FAULT_PREFIX + rank(), firstLine(cause));
            long deadline = System.nanoTime() + options.faultReportWait().toNanos();
            while (!silent.isEmpty() && System.nanoTime() < deadline) {
                silent.removeIf(r -> store.check(new StringVector(FAULT_PREFIX + r)));
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
            verdict = (silent.size() == 1 ? "rank " : "ranks ") + join(new ArrayList<>(silent)) + (silent.size() == 1 ? " is" : " are")
                    + " lost (died, was killed or ran out of memory, hangs, or cannot be reached): "
                    + (storeGone ? "the rendezvous store on rank 0 no longer answers" : "no report within " + seconds(options.faultReportWait()));
        failure = new CollectiveFailedException(rank(), silent, String.format(Locale.ROOT, "%s failed on rank %d of %d after %.1f s (collective timeout %s): %s; %s",
                op, rank(), worldSize(), elapsedNanos / 1e9, seconds(options.collectiveTimeout()), firstLine(cause), verdict), cause);
        return failure;
    }

    // ---- joining ----

    private static DistOptions.Backend resolveBackend(DistOptions.Backend requested, Device device) {
        return switch (requested) {
            case GLOO -> DistOptions.Backend.GLOO;
            case NCCL -> {
                if (!device.is_cuda()) throw new GroupJoinException("the nccl backend needs CUDA tensors, but the device is " + device.str().getString()
                        + "; use the gloo backend on the CPU");
                String why = NcclSupport.unavailableReason();
                if (why != null) throw new GroupJoinException("the nccl backend is not available: " + why + "; build with QOFT4J_PROFILES=gpu, or use the gloo backend");
                yield DistOptions.Backend.NCCL;
            }
            case AUTO -> device.is_cuda() && NcclSupport.unavailableReason() == null ? DistOptions.Backend.NCCL : DistOptions.Backend.GLOO;
        };
    }

    private static InetAddress resolveMaster(DistEnv env) {
        try {
            return InetAddress.getByName(env.masterAddr());
        } catch (UnknownHostException e) {
            throw new GroupJoinException("MASTER_ADDR '" + env.masterAddr() + "' does not resolve to an address (rank " + env.rank() + ")", e);
        }
    }

    /**
     * Rank 0 serves the store (on the loopback address only when MASTER_ADDR is loopback, else on every interface,
     * as torchrun does); the others first wait, in Java, until the master's port accepts connections, so that an
     * unreachable master fails within the join timeout with a message that says so.
     */
    private static TCPStore openStore(DistEnv env, InetAddress master, Duration joinTimeout, long deadline) {
        String where = env.masterAddr() + ":" + env.masterPort();
        TCPStoreOptions o = new TCPStoreOptions();
        o.port((short) env.masterPort());
        o.isServer(env.master());
        o.numWorkers(new SizeTPointer(1).put(env.worldSize()));
        o.waitWorkers(false);  // the backend's rendezvous waits for all ranks, with a message naming the missing ones
        o.timeout(millis(Duration.ofNanos(Math.max(remaining(deadline), 1_000_000))));
        if (env.master()) {
            try {
                if (master.isLoopbackAddress()) o.masterListenFd(new IntOptional(LoopbackListenSocket.listen(master, env.masterPort())));
                return new TCPStore(env.masterAddr(), o);
            } catch (LoopbackListenSocket.PortInUseException e) {
                throw portInUse(env, e);
            } catch (RuntimeException e) {
                if (String.valueOf(e.getMessage()).contains("EADDRINUSE")) throw portInUse(env, e);
                throw new GroupJoinException("rank 0 cannot serve the rendezvous store on port " + env.masterPort() + ": " + firstLine(e), e);
            }
        }
        waitForMaster(env, master, joinTimeout, deadline);
        o.timeout(millis(Duration.ofNanos(Math.max(remaining(deadline), 1_000_000))));
        try {
            return new TCPStore(env.masterAddr(), o);
        } catch (RuntimeException e) {
            throw new GroupJoinException("rank " + env.rank() + " cannot connect to the master's store at " + where + ": " + firstLine(e), e);
        }
    }

    private static GroupJoinException portInUse(DistEnv env, RuntimeException e) {
        return new GroupJoinException("rank 0 cannot serve the rendezvous store: port " + env.masterPort() + " on " + env.masterAddr()
                + " is already in use (another run, or another program); choose another MASTER_PORT (--master-port), or on one machine "
                + "leave it out to have a free port picked", e);
    }

    private static void waitForMaster(DistEnv env, InetAddress master, Duration joinTimeout, long deadline) {
        String last = "no attempt";
        while (true) {
            long left = remaining(deadline);
            if (left <= 0) break;
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(master, env.masterPort()), (int) Math.max(1, Math.min(left / 1_000_000, 5_000)));
                return;
            } catch (ConnectException | SocketTimeoutException | NoRouteToHostException e) {
                last = e.getMessage();
            } catch (IOException e) {
                last = e.toString();
            }
            try {
                Thread.sleep(Math.min(250, Math.max(1, remaining(deadline) / 1_000_000)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new GroupJoinException("rank " + env.rank() + " cannot reach the master at " + env.masterAddr() + ":" + env.masterPort()
                + " (MASTER_ADDR:MASTER_PORT) within " + seconds(joinTimeout) + " (" + last + "): is rank 0 running, with the same port, and can "
                + "this machine reach that address?");
    }

    private static Backend createGloo(Store store, DistEnv env, InetAddress master, DistOptions options, long remainingNanos) {
        ProcessGroupGloo.Options o = ProcessGroupGloo.Options.create(millis(Duration.ofNanos(Math.max(remainingNanos, 1_000_000))));
        o.devices(new GlooDeviceVector(glooDevice(master, env.masterPort())));
        o.threads(options.glooThreads());
        ProcessGroupGloo pg = new ProcessGroupGloo(store, env.rank(), env.worldSize(), o);
        // the rendezvous above ran under the join timeout; collectives get their own (they also pass it per call)
        pg.setTimeout(millis(options.collectiveTimeout()));
        return pg;
    }

    /**
     * Gloo's transport binds one local address: loopback when the master is on this machine's loopback, the interface
     * named by GLOO_SOCKET_IFNAME when set (as in PyTorch), else the address this machine uses to reach the master.
     */
    private static org.bytedeco.pytorch.gloo.Device glooDevice(InetAddress master, int port) {
        String ifname = System.getenv("GLOO_SOCKET_IFNAME");
        if (ifname != null && !ifname.isBlank()) return ProcessGroupGloo.createDeviceForInterface(ifname.split(",")[0].trim());
        if (master.isLoopbackAddress()) return ProcessGroupGloo.createDeviceForHostname(master.getHostAddress());
        try (DatagramSocket s = new DatagramSocket()) {
            s.connect(master, port);  // UDP connect sends nothing: it only picks the route, hence the local address
            return ProcessGroupGloo.createDeviceForHostname(s.getLocalAddress().getHostAddress());
        } catch (IOException e) {
            throw new GroupJoinException("cannot find the local address that reaches the master " + master.getHostAddress()
                    + "; set GLOO_SOCKET_IFNAME to the network interface to use", e);
        }
    }

    private static String missingRanks(Store store, DistEnv env) {
        List<Integer> missing = new ArrayList<>();
        try {
            for (int r = 0; r < env.worldSize(); r++) if (!store.check(new StringVector(JOINED_PREFIX + r))) missing.add(r);
        } catch (RuntimeException e) {
            return "";  // the store itself failed: nothing to add
        }
        return missing.isEmpty() ? "" : (missing.size() == 1 ? "rank " : "ranks ") + join(missing);
    }

    // ---- small helpers ----

    /** Keeps a Java object that C++ adopted from ever being freed from Java (see join). */
    private static <P extends org.bytedeco.javacpp.Pointer> P pin(P p) {
        p.retainReference();
        p.deallocate(false);  // off the garbage collector's list
        return p;
    }

    /** The first line of a c10d error (the rest is a native backtrace), with source paths cut to file names. */
    static String firstLine(Throwable e) {
        String m = String.valueOf(e.getMessage()).strip();
        int nl = m.indexOf('\n');
        m = nl < 0 ? m : m.substring(0, nl).strip();
        return SOURCE_PATH.matcher(m).replaceAll("[$1]");
    }

    private static final java.util.regex.Pattern SOURCE_PATH = java.util.regex.Pattern.compile("\\[/[^\\]]*/([^/\\]]+:\\d+)\\]");

    private static long remaining(long deadline) {
        return deadline - System.nanoTime();
    }

    private static Milliseconds millis(Duration d) {
        return new Milliseconds(Math.max(1, d.toMillis()));
    }

    private static String seconds(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 == 0 ? ms / 1000 + " s" : String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
    }

    private static String join(List<Integer> ranks) {
        StringBuilder b = new StringBuilder();
        for (int r : ranks) b.append(b.length() == 0 ? "" : ", ").append(r);
        return b.toString();
    }

    private static String abbreviate(String hex) {
        return hex.length() <= 16 ? hex : hex.substring(0, 16) + "…";
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Loads NCCL lazily: its classes need the gpu build's natives and the CUDA presets on the class path. */
    static final class NcclSupport {
        private static volatile String unavailable;
        private static volatile boolean probed;

        /** Null when NCCL's natives load, else why not. */
        static String unavailableReason() {
            if (!probed) {
                synchronized (NcclSupport.class) {
                    if (!probed) {
                        try {
                            Loader.load(org.bytedeco.pytorch.global.torch_nccl.class);
                            torch_ncclVersion();
                        } catch (Throwable t) {
                            unavailable = t.getClass().getSimpleName() + ": " + t.getMessage()
                                    + " (the CPU build of libtorch has no NCCL; the gpu build brings libjnitorch_nccl and the CUDA presets)";
                        }
                        probed = true;
                    }
                }
            }
            return unavailable;
        }

        /** setenv(3) in this process, so that libtorch's getenv sees it; a value the user set stays. */
        private static void setenvUnlessSet(String name, String value) {
            com.sun.jna.NativeLibrary.getInstance("c").getFunction("setenv").invokeInt(new Object[] {name, value, 0});
        }

        private static void torch_ncclVersion() {
            org.bytedeco.pytorch.global.torch_nccl.getNcclVersionNumber();
        }

        /**
         * A ProcessGroupNCCL. Unverified in this project so far (no multi-GPU machine): the presets' gpu build has
         * the class and its natives. Blocking wait is asked for, so that a timed-out collective raises an error in
         * {@code Work.wait} (which names the rank) instead of NCCL's watchdog tearing the process down.
         */
        static Backend create(Store store, DistEnv env, DistOptions options) {
            setenvUnlessSet("TORCH_NCCL_BLOCKING_WAIT", "1");  // read by the ProcessGroupNCCL constructor
            org.bytedeco.pytorch.nccl.ProcessGroupNCCL.Options o = org.bytedeco.pytorch.nccl.ProcessGroupNCCL.Options.create();
            o.timeout(millis(options.collectiveTimeout()));
            return new org.bytedeco.pytorch.nccl.ProcessGroupNCCL(store, env.rank(), env.worldSize(), o);
        }
    }
}
