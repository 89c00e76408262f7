package org.qoft4j.data;

/**
 * Where a {@link DataLoader} is: the epoch and the number of batches of it already handed out. Saving it and
 * restoring it with {@link DataLoader#seek} continues with exactly the batch that would have come next.
 */
public record DataCursor(int epoch, int position) {
    public DataCursor {
        if (epoch < 0 || position < 0) throw new IllegalArgumentException("cursor fields must be >= 0: epoch " + epoch + ", position " + position);
    }

    public static DataCursor start() {
        return new DataCursor(0, 0);
    }
}
