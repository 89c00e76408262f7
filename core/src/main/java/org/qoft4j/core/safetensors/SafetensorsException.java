package org.qoft4j.core.safetensors;

import java.nio.file.Path;

/** A safetensors file (or Hugging Face checkpoint) that cannot be read or written as asked. The message names the file, the tensor when there is one, and the problem. */
public class SafetensorsException extends RuntimeException {
    private final transient Path file;
    private final String tensor;

    public SafetensorsException(Path file, String tensor, String problem) {
        this(file, tensor, problem, null);
    }

    public SafetensorsException(Path file, String tensor, String problem, Throwable cause) {
        super(file + (tensor == null ? "" : ": tensor '" + tensor + "'") + ": " + problem, cause);
        this.file = file;
        this.tensor = tensor;
    }

    /** The file concerned. */
    public Path file() {
        return file;
    }

    /** The tensor concerned, or null when the problem is not about one tensor. */
    public String tensor() {
        return tensor;
    }
}
