package org.qoft4j.quant.nf4;

/**
 * Counts how many of a sorted list of thresholds lie strictly below a value, in constant time: a table
 * over [lo, hi] split into {@value #CELLS} cells gives, per cell, the count below the cell with one cell
 * of margin, and a single comparison with the next threshold finishes the job. Exact (identical to a
 * binary search with {@code >}) as long as no two thresholds are closer than three cells, which the
 * constructor checks; values outside [lo, hi] fall in the end cells, which hold no threshold.
 * This is the quantizer's fast path; {@link CodeTables#nf4Code} and {@link CodeTables#fp4Code} are the reference.
 */
final class ThresholdCounter {
    static final int CELLS = 1024;

    private final float[] next;   // the thresholds, then +Inf as a sentinel
    private final byte[] below;   // per cell: thresholds below the cell's lower edge minus one cell
    private final float lo, cellsPerUnit;

    ThresholdCounter(float[] thresholds, float lo, float hi) {
        double w = ((double) hi - lo) / CELLS;
        for (int k = 0; k < thresholds.length; k++) {
            if (thresholds[k] <= lo + 2 * w || thresholds[k] >= hi - 2 * w)
                throw new IllegalArgumentException("threshold " + thresholds[k] + " too close to the range ends");
            if (k > 0 && thresholds[k] - (double) thresholds[k - 1] <= 3 * w)
                throw new IllegalArgumentException("thresholds " + thresholds[k - 1] + " and " + thresholds[k] + " closer than 3 cells");
        }
        this.lo = lo;
        this.cellsPerUnit = (float) (CELLS / ((double) hi - lo));
        next = java.util.Arrays.copyOf(thresholds, thresholds.length + 1);
        next[thresholds.length] = Float.POSITIVE_INFINITY;
        below = new byte[CELLS];
        for (int c = 0; c < CELLS; c++) {
            double edge = lo + (c - 1) * w;
            int n = 0;
            while (n < thresholds.length && thresholds[n] < edge) n++;
            below[c] = (byte) n;
        }
    }

    /** Number of thresholds t with {@code v > t}; v must not be NaN. */
    int count(float v) {
        int cell = (int) ((v - lo) * cellsPerUnit);
        cell = Math.max(0, Math.min(CELLS - 1, cell));
        int c = below[cell];
        return v > next[c] ? c + 1 : c;
    }
}
