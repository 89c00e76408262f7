package org.qoft4j.data;

import org.bytedeco.pytorch.Tensor;
import org.qoft4j.core.Tensors;

/**
 * A batch of rows {@code [B][T]}. With packing a row holds several samples back to back: {@code sequenceIds}
 * numbers them (0, 1, ...) and {@code positionIds} restart at 0 for each. Padding has sequence id -1, label
 * {@link Sample#IGNORE} and position 0. Labels are aligned with the ids as in transformers, and the first token of
 * every sample is never scored (it would be predicted from the previous sample).
 */
public record Batch(long[][] inputIds, long[][] labels, long[][] positionIds, long[][] sequenceIds) {
    public int size() {
        return inputIds.length;
    }

    public int length() {
        return inputIds.length == 0 ? 0 : inputIds[0].length;
    }

    /** Tokens that count towards the loss. */
    public long scoredTokens() {
        long n = 0;
        for (long[] row : labels) for (int i = 1; i < row.length; i++) if (row[i] != Sample.IGNORE) n++;
        return n;
    }

    /** Non-padding tokens. */
    public long realTokens() {
        long n = 0;
        for (long[] row : sequenceIds) for (long s : row) if (s >= 0) n++;
        return n;
    }

    public Tensor inputIdsTensor() {
        return tensor(inputIds);
    }

    public Tensor labelsTensor() {
        return tensor(labels);
    }

    public Tensor positionIdsTensor() {
        return tensor(positionIds);
    }

    public Tensor sequenceIdsTensor() {
        return tensor(sequenceIds);
    }

    private Tensor tensor(long[][] rows) {
        int b = rows.length, t = length();
        long[] flat = new long[b * t];
        for (int i = 0; i < b; i++) System.arraycopy(rows[i], 0, flat, i * t, t);
        return Tensors.ofLongs(flat, b, t);
    }
}
