package org.qoft4j.trainer.dist;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;

/**
 * What one {@link Launcher} starts on its machine, from the flags {@code --nnodes}, {@code --node-rank},
 * {@code --nproc-per-node}, {@code --master-addr}, {@code --master-port} (torchrun's names and meanings): machine
 * {@code nodeRank} of {@code nnodes} runs {@code nprocPerNode} workers, ranks {@code nodeRank * nprocPerNode} onward.
 *
 * @param masterPort 0 = pick a free port (one machine only: the others could not know it)
 */
public record LaunchPlan(int nnodes, int nodeRank, int nprocPerNode, String masterAddr, int masterPort) {
    /** The rendezvous address of a one-machine run. */
    public static final String LOOPBACK = "127.0.0.1";

    public LaunchPlan {
        if (nnodes < 1) throw new IllegalArgumentException("--nnodes must be at least 1, got " + nnodes);
        if (nodeRank < 0 || nodeRank >= nnodes)
            throw new IllegalArgumentException("--node-rank must be in 0.." + (nnodes - 1) + " for --nnodes " + nnodes + ", got " + nodeRank);
        if (nprocPerNode < 1) throw new IllegalArgumentException("--nproc-per-node must be at least 1, got " + nprocPerNode);
        if (masterPort < 0 || masterPort > 65535) throw new IllegalArgumentException("--master-port must be in 1..65535, got " + masterPort);
        if (masterAddr == null || masterAddr.isBlank()) {
            if (nnodes > 1) throw new IllegalArgumentException("--master-addr is required with --nnodes " + nnodes + ": the address of node 0, "
                    + "reachable from every machine");
            masterAddr = LOOPBACK;
        }
        if (nnodes > 1 && masterPort == 0)
            throw new IllegalArgumentException("--master-port is required with --nnodes " + nnodes + ": every machine must name the same port");
        if (nnodes > 1 && isLoopback(masterAddr))
            throw new IllegalArgumentException("--master-addr " + masterAddr + " is a loopback address, which the other " + (nnodes - 1)
                    + " machine(s) cannot reach; give node 0's network address");
    }

    /** One machine, {@code nproc} workers, rendezvous on loopback at a free port (like torchrun --standalone). */
    public static LaunchPlan standalone(int nproc) {
        return new LaunchPlan(1, 0, nproc, LOOPBACK, 0);
    }

    public int worldSize() {
        return nnodes * nprocPerNode;
    }

    /** This plan with a concrete port: the given one, or a free one on the master address when 0. */
    public LaunchPlan withFreePortIfUnset() {
        if (masterPort != 0) return this;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(masterAddr))) {
            return new LaunchPlan(nnodes, nodeRank, nprocPerNode, masterAddr, s.getLocalPort());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot find a free port on " + masterAddr + " for the rendezvous store", e);
        }
    }

    /** The environment contract of the worker with local rank {@code localRank} on this machine. */
    public DistEnv worker(int localRank) {
        if (masterPort == 0) throw new IllegalStateException("no master port chosen yet (withFreePortIfUnset)");
        if (localRank < 0 || localRank >= nprocPerNode) throw new IllegalArgumentException("local rank " + localRank + " not in 0.." + (nprocPerNode - 1));
        return new DistEnv(nodeRank * nprocPerNode + localRank, worldSize(), localRank, nprocPerNode, masterAddr, masterPort);
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;  // reported when the workers resolve it
        }
    }
}
