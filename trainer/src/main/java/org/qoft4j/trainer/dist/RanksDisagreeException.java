package org.qoft4j.trainer.dist;

import java.util.List;
import java.util.Map;

/**
 * Ranks that must agree on a value (a hash of the configuration, of the model files) do not. Raised on every rank,
 * with the same message, before training starts.
 */
public final class RanksDisagreeException extends RuntimeException {
    private final Map<String, List<Integer>> ranksByValue;

    /** @param ranksByValue each distinct value (printable, e.g. a hex digest) with the ranks holding it */
    public RanksDisagreeException(String message, Map<String, List<Integer>> ranksByValue) {
        super(message);
        this.ranksByValue = Map.copyOf(ranksByValue);
    }

    /** Each distinct value with the ranks that hold it. */
    public Map<String, List<Integer>> ranksByValue() {
        return ranksByValue;
    }
}
