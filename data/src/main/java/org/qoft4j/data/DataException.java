package org.qoft4j.data;

/** A data file that cannot be used; the message starts with {@code file:line:} and says what was expected. */
public class DataException extends RuntimeException {
    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}
