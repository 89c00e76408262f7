package org.qoft4j.trainer;

/** A training configuration that cannot be used: the message names the option (and file) and what was expected. */
public final class ConfigException extends IllegalArgumentException {
    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
