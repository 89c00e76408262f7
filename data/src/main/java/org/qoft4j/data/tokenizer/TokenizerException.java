package org.qoft4j.data.tokenizer;

/** A tokenizer directory that cannot be used; the message names the file and what was wrong. */
public class TokenizerException extends RuntimeException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
