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
 * How a rank joins its {@link DataParallelGroup} (split from it to keep each file to one job): resolving the master,
 * serving or reaching the rendezvous store (TCPStore) within the join timeout, creating the Gloo or NCCL backend, and
 * naming the ranks that did not join; plus the small helpers both use.
 */
final class Rendezvous {
    static final String PG_PREFIX = "qoft4j/pg/", JOINED_PREFIX = "qoft4j/joined/", FAULT_PREFIX = "qoft4j/fault/";

    private Rendezvous() {}


    static DistOptions.Backend resolveBackend(DistOptions.Backend requested, Device device) {
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

    static InetAddress resolveMaster(DistEnv env) {
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
    static TCPStore openStore(DistEnv env, InetAddress master, Duration joinTimeout, long deadline) {
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

    static GroupJoinException portInUse(DistEnv env, RuntimeException e) {
        return new GroupJoinException("rank 0 cannot serve the rendezvous store: port " + env.masterPort() + " on " + env.masterAddr()
                + " is already in use (another run, or another program); choose another MASTER_PORT (--master-port), or on one machine "
                + "leave it out to have a free port picked", e);
    }

    static void waitForMaster(DistEnv env, InetAddress master, Duration joinTimeout, long deadline) {
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

    static Backend createGloo(Store store, DistEnv env, InetAddress master, DistOptions options, long remainingNanos) {
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
    static org.bytedeco.pytorch.gloo.Device glooDevice(InetAddress master, int port) {
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

    static String missingRanks(Store store, DistEnv env) {
        List<Integer> missing = new ArrayList<>();
        try {
            for (int r = 0; r < env.worldSize(); r++) if (!store.check(new StringVector(JOINED_PREFIX + r))) missing.add(r);
        } catch (RuntimeException e) {
            return "";  // the store itself failed: nothing to add
        }
        return missing.isEmpty() ? "" : (missing.size() == 1 ? "rank " : "ranks ") + ranks(missing);
    }

    // ---- small helpers ----

    /** Keeps a Java object that C++ adopted from ever being freed from Java (see join). */
    static <P extends org.bytedeco.javacpp.Pointer> P pin(P p) {
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

    static final java.util.regex.Pattern SOURCE_PATH = java.util.regex.Pattern.compile("\\[/[^\\]]*/([^/\\]]+:\\d+)\\]");

    static long remaining(long deadline) {
        return deadline - System.nanoTime();
    }

    static Milliseconds millis(Duration d) {
        return new Milliseconds(Math.max(1, d.toMillis()));
    }

    static String seconds(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 == 0 ? ms / 1000 + " s" : String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
    }

    static String ranks(List<Integer> ranks) {
        StringBuilder b = new StringBuilder();
        for (int r : ranks) b.append(b.length() == 0 ? "" : ", ").append(r);
        return b.toString();
    }

    static String abbreviate(String hex) {
        return hex.length() <= 16 ? hex : hex.substring(0, 16) + "…";
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Loads NCCL lazily: its classes need the gpu build's natives and the CUDA presets on the class path. */
    static final class NcclSupport {
        static volatile String unavailable;
        static volatile boolean probed;

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
        static void setenvUnlessSet(String name, String value) {
            com.sun.jna.NativeLibrary.getInstance("c").getFunction("setenv").invokeInt(new Object[] {name, value, 0});
        }

        static void torch_ncclVersion() {
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
