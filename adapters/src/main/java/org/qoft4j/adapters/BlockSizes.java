package org.qoft4j.adapters;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses one layer's block layout from {@code oft_block_size} or {@code r} the way PEFT does: when the requested
 * value does not divide the layer's input size, take the nearest divisor (the lower one on a tie; the input size
 * itself when the request exceeds it) and log the change.
 */
public final class BlockSizes {
    private static final Logger LOG = LoggerFactory.getLogger(BlockSizes.class);

    private BlockSizes() {}

    /** r blocks of size b, {@code r * b == in_features}. */
    public record Layout(int blocks, int blockSize) {
        /** Stored values per block: {@code b(b-1)/2}. */
        public long valuesPerBlock() {
            return (long) blockSize * (blockSize - 1) / 2;
        }
    }

    /**
     * @param r         blocks requested, or 0
     * @param blockSize block size requested, or 0 (exactly one of the two is non-zero)
     * @param label     names the layer in the log line
     */
    public static Layout resolve(long inFeatures, int r, int blockSize, String label) {
        if (inFeatures <= 0 || inFeatures > Integer.MAX_VALUE)
            throw new IllegalArgumentException(label + ": in_features " + inFeatures + " out of range");
        int in = (int) inFeatures;
        if (r == 0 && blockSize > 0) {
            int b = blockSize;
            if (in % b != 0 || b > in) {
                b = nearestDivisor(in, blockSize);
                LOG.warn("{}: oft_block_size {} does not divide in_features {}; using {} (nearest divisor, as PEFT does)",
                        label, blockSize, in, b);
            }
            return new Layout(in / b, b);
        }
        if (blockSize == 0 && r > 0) {
            int blocks = r;
            if (in % r != 0 || r > in) {
                blocks = nearestDivisor(in, r);
                LOG.warn("{}: r = {} does not divide in_features {}; using r = {} (nearest divisor, as PEFT does)",
                        label, r, in, blocks);
            }
            return new Layout(blocks, in / blocks);
        }
        throw new IllegalArgumentException(label + ": give exactly one of r (" + r + ") and block size (" + blockSize + ")");
    }

    /** PEFT's {@code adjust_oft_parameters}: the divisor of {@code n} nearest to {@code wanted}, lower on ties. */
    static int nearestDivisor(int n, int wanted) {
        if (wanted >= n) return n;
        int higher = wanted;
        while (higher <= n && n % higher != 0) higher++;
        int lower = wanted;
        while (lower > 1 && n % lower != 0) lower--;
        return (wanted - lower) <= (higher - wanted) ? lower : higher;
    }

    /** The block size b of a stored row of {@code n = b(b-1)/2} values, or -1 when n is not of that form. */
    public static int blockSizeOfRow(long n) {
        if (n < 1) return -1;
        long b = Math.round((1 + Math.sqrt(1 + 8.0 * n)) / 2);
        return b * (b - 1) / 2 == n && b <= Integer.MAX_VALUE ? (int) b : -1;
    }
}
