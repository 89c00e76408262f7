package org.qoft4j.data;

import java.util.Arrays;

/**
 * One tokenized training example. {@code labels} is aligned with {@code inputIds} as in transformers (the model
 * learns to predict {@code labels[i]} from tokens {@code 0..i-1}); {@link #IGNORE} marks tokens not scored.
 */
public record Sample(long[] inputIds, long[] labels) {
    public static final long IGNORE = -100;

    public Sample {
        if (inputIds.length != labels.length)
            throw new IllegalArgumentException("input_ids (" + inputIds.length + ") and labels (" + labels.length + ") differ in length");
        if (inputIds.length == 0) throw new IllegalArgumentException("a sample needs at least one token");
    }

    /** Every token scored (plain text, pre-training style). */
    public static Sample allScored(long[] ids) {
        return new Sample(ids, ids.clone());
    }

    public int length() {
        return inputIds.length;
    }

    /** Tokens whose label counts towards the loss (the first token never does: nothing precedes it). */
    public long scoredTokens() {
        long n = 0;
        for (int i = 1; i < labels.length; i++) if (labels[i] != IGNORE) n++;
        return n;
    }

    /** The first {@code n} tokens. */
    public Sample truncate(int n) {
        return n >= inputIds.length ? this : new Sample(Arrays.copyOf(inputIds, n), Arrays.copyOf(labels, n));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Sample s && Arrays.equals(inputIds, s.inputIds) && Arrays.equals(labels, s.labels);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(inputIds) + Arrays.hashCode(labels);
    }

    @Override
    public String toString() {
        return "Sample(ids=" + Arrays.toString(inputIds) + ", labels=" + Arrays.toString(labels) + ")";
    }
}
