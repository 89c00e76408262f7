package org.qoft4j.gguf;

/** A GGUF file that cannot be read or written as asked: the message names the file (or key, or tensor) and what was expected. */
public class GgufFormatException extends RuntimeException {
    public GgufFormatException(String message) {
        super(message);
    }

    public GgufFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
