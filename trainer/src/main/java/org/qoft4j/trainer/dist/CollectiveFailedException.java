package org.qoft4j.trainer.dist;

import java.util.Set;

/**
 * A collective (all-reduce, broadcast, barrier, all-gather) failed: a peer died, hung past the collective timeout, or
 * the network failed. The group is unusable afterwards: every later collective throws at once.
 */
public final class CollectiveFailedException extends RuntimeException {
    private final int rank;
    private final Set<Integer> lostRanks;

    /**
     * @param rank      the rank that raised this
     * @param lostRanks the ranks that did not report back after the failure (dead, hung or cut off), as far as this
     *                  rank could tell; empty when every other rank reported (the failure has another cause)
     */
    public CollectiveFailedException(int rank, Set<Integer> lostRanks, String message, Throwable cause) {
        super(message, cause);
        this.rank = rank;
        this.lostRanks = Set.copyOf(lostRanks);
    }

    /** The rank that raised this. */
    public int rank() {
        return rank;
    }

    /** The ranks presumed lost (died, hung or unreachable); empty when all answered. */
    public Set<Integer> lostRanks() {
        return lostRanks;
    }
}
