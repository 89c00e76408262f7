package org.qoft4j.adapters;

/**
 * Which exact Cayley transform {@code use_cayley_neumann = false} computes. The two are transposes (and inverses)
 * of each other, so the same stored vector gives opposite rotations under them.
 */
public enum CayleyConvention {
    /**
     * {@code R = (I + Q)(I - Q)^-1}: the transform the Neumann series truncates
     * ({@code (I + Q)(I + Q + Q^2 + ...)}), so switching between exact and Neumann mode on the same parameters
     * keeps the rotation (up to the truncation error). qoft4j's default.
     */
    NEUMANN_CONSISTENT,
    /** {@code R = (I - Q)(I + Q)^-1}: what PEFT's exact branch computes ({@code linalg.solve(I + Q, I - Q, left=False)}). */
    PEFT_EXACT
}
