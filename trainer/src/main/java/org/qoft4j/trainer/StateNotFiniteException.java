package org.qoft4j.trainer;

/** A checkpoint was refused because the state it would hold is not finite (see {@code CheckpointHealth}). */
public final class StateNotFiniteException extends IllegalStateException {
    public StateNotFiniteException(String message) {
        super(message);
    }
}
