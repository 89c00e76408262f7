package org.qoft4j.trainer.dist;

/**
 * A data-parallel group could not form: the master's port is taken, the master cannot be reached, a rank did not
 * join in time, or the backend is missing. Raised before training starts; the message says what to change.
 */
public final class GroupJoinException extends RuntimeException {
    public GroupJoinException(String message, Throwable cause) {
        super(message, cause);
    }

    public GroupJoinException(String message) {
        super(message);
    }
}
