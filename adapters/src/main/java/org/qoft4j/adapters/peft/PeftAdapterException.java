package org.qoft4j.adapters.peft;

import java.nio.file.Path;

/** An adapter directory that cannot be read or written as asked; the message names the file, the key when there is one, and the problem. */
public class PeftAdapterException extends RuntimeException {
    private final transient Path file;
    private final String key;

    public PeftAdapterException(Path file, String key, String problem) {
        this(file, key, problem, null);
    }

    public PeftAdapterException(Path file, String key, String problem, Throwable cause) {
        super(file + (key == null ? "" : ": '" + key + "'") + ": " + problem, cause);
        this.file = file;
        this.key = key;
    }

    public Path file() {
        return file;
    }

    /** The tensor key or config field concerned, or null. */
    public String key() {
        return key;
    }
}
