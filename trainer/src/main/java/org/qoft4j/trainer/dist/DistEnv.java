package org.qoft4j.trainer.dist;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Where this process sits in a data-parallel run: the torchrun environment contract. Any launcher that sets these
 * variables can start qoft4j workers ({@link Launcher} does, so do torchrun and a Slurm wrapper):
 *
 * <ul>
 *   <li>{@code RANK} (0 .. WORLD_SIZE-1) and {@code WORLD_SIZE}: this process among all of the run;
 *   <li>{@code LOCAL_RANK} and {@code LOCAL_WORLD_SIZE}: this process among those of its machine (picks
 *       {@code cuda:LOCAL_RANK}); both absent means one process per machine (local rank 0 of 1);
 *   <li>{@code MASTER_ADDR} and {@code MASTER_PORT}: where rank 0 serves the rendezvous store.
 * </ul>
 *
 * @param rank           this process's rank, 0 .. worldSize-1; rank 0 is the master (store, checkpoints, metrics)
 * @param worldSize      number of processes in the run
 * @param localRank      rank among the processes on this machine
 * @param localWorldSize number of processes on this machine
 * @param masterAddr     host name or address of rank 0's machine
 * @param masterPort     TCP port of the rendezvous store on the master, 1..65535
 */
public record DistEnv(int rank, int worldSize, int localRank, int localWorldSize, String masterAddr, int masterPort) {
    public static final String RANK = "RANK", WORLD_SIZE = "WORLD_SIZE", LOCAL_RANK = "LOCAL_RANK", LOCAL_WORLD_SIZE = "LOCAL_WORLD_SIZE",
            MASTER_ADDR = "MASTER_ADDR", MASTER_PORT = "MASTER_PORT";

    public DistEnv {
        if (worldSize < 1) throw new IllegalArgumentException(WORLD_SIZE + " must be at least 1, got " + worldSize);
        if (rank < 0 || rank >= worldSize)
            throw new IllegalArgumentException(RANK + " must be in 0.." + (worldSize - 1) + " for " + WORLD_SIZE + "=" + worldSize + ", got " + rank);
        if (localWorldSize < 1 || localWorldSize > worldSize)
            throw new IllegalArgumentException(LOCAL_WORLD_SIZE + " must be in 1.." + worldSize + " (" + WORLD_SIZE + "), got " + localWorldSize);
        if (localRank < 0 || localRank >= localWorldSize)
            throw new IllegalArgumentException(LOCAL_RANK + " must be in 0.." + (localWorldSize - 1) + " for " + LOCAL_WORLD_SIZE + "=" + localWorldSize
                    + ", got " + localRank);
        if (masterAddr == null || masterAddr.isBlank()) throw new IllegalArgumentException(MASTER_ADDR + " must name rank 0's host, got an empty value");
        if (masterPort < 1 || masterPort > 65535) throw new IllegalArgumentException(MASTER_PORT + " must be in 1..65535, got " + masterPort);
    }

    /** A run of one process: no group is formed (the address and port are never used). */
    public static DistEnv single() {
        return new DistEnv(0, 1, 0, 1, "127.0.0.1", 29500);
    }

    /** True when there is more than one process, i.e. a process group must be formed. */
    public boolean distributed() {
        return worldSize > 1;
    }

    /** True on rank 0, which alone writes checkpoints, the adapter and metrics. */
    public boolean master() {
        return rank == 0;
    }

    /**
     * Reads the contract from {@code env} (normally {@link System#getenv()}).
     *
     * @return empty when none of RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE is set (a plain single-process run)
     * @throws IllegalArgumentException when the variables are set but incomplete or out of range; the message names
     *                                  the variable and what was expected
     */
    public static Optional<DistEnv> fromEnvironment(Map<String, String> env) {
        boolean any = env.containsKey(RANK) || env.containsKey(WORLD_SIZE) || env.containsKey(LOCAL_RANK) || env.containsKey(LOCAL_WORLD_SIZE);
        if (!any) return Optional.empty();
        StringBuilder missing = new StringBuilder();
        for (String key : new String[] {RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT})
            if (blank(env.get(key))) missing.append(missing.length() == 0 ? "" : ", ").append(key);
        if (missing.length() > 0)
            throw new IllegalArgumentException("incomplete torchrun environment: " + missing + " not set (set are: " + setKeys(env)
                    + "); a distributed worker needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, plus LOCAL_RANK and LOCAL_WORLD_SIZE "
                    + "when a machine runs several workers");
        if (blank(env.get(LOCAL_RANK)) != blank(env.get(LOCAL_WORLD_SIZE)))
            throw new IllegalArgumentException("LOCAL_RANK and LOCAL_WORLD_SIZE go together: one is set and the other is not (set are: " + setKeys(env) + ")");
        int rank = integer(env, RANK), worldSize = integer(env, WORLD_SIZE);
        boolean local = !blank(env.get(LOCAL_RANK));
        return Optional.of(new DistEnv(rank, worldSize, local ? integer(env, LOCAL_RANK) : 0, local ? integer(env, LOCAL_WORLD_SIZE) : 1,
                env.get(MASTER_ADDR).trim(), integer(env, MASTER_PORT)));
    }

    /** This process's contract as environment variables, for a child process. */
    public Map<String, String> toEnvironment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put(RANK, Integer.toString(rank));
        env.put(WORLD_SIZE, Integer.toString(worldSize));
        env.put(LOCAL_RANK, Integer.toString(localRank));
        env.put(LOCAL_WORLD_SIZE, Integer.toString(localWorldSize));
        env.put(MASTER_ADDR, masterAddr);
        env.put(MASTER_PORT, Integer.toString(masterPort));
        return env;
    }

    @Override
    public String toString() {
        return "rank " + rank + " of " + worldSize + " (local " + localRank + " of " + localWorldSize + ", master " + masterAddr + ":" + masterPort + ")";
    }

    private static int integer(Map<String, String> env, String key) {
        String v = env.get(key).trim();
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " must be an integer, got '" + v + "'");
        }
    }

    private static boolean blank(String s) {
        return s == null || s.isBlank();
    }

    private static String setKeys(Map<String, String> env) {
        StringBuilder b = new StringBuilder();
        for (String key : new String[] {RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT})
            if (!blank(env.get(key))) b.append(b.length() == 0 ? "" : ", ").append(key).append('=').append(env.get(key));
        return b.length() == 0 ? "none" : b.toString();
    }
}
