package org.qoft4j.model;

/**
 * A model directory or checkpoint that cannot be used: unknown architecture, missing tensor, wrong shape,
 * inconsistent config. The message names the file or tensor and what was expected.
 */
public class ModelFormatException extends RuntimeException {
    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
