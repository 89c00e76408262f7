package org.qoft4j.adapters;

/**
 * How to build OFT adapters (PEFT's {@code OFTConfig} fields that change the computation).
 *
 * @param r                 number of blocks per layer, or 0 when {@code blockSize} is given (PEFT's {@code r})
 * @param blockSize         block size b, or 0 when {@code r} is given (PEFT's {@code oft_block_size})
 * @param neumannTerms      N, terms of the Cayley–Neumann series, 1..8 (PEFT's {@code num_cayley_neumann_terms})
 * @param useCayleyNeumann  true: the truncated series (PEFT ≥ 0.18 formula); false: the exact Cayley transform
 * @param exactConvention   which exact transform {@code useCayleyNeumann = false} computes
 * @param blockShare        one block's parameters shared by all blocks of a layer
 * @param coft              constrained OFT: each forward first rescales Q to Frobenius norm ≤ eps / sqrt(rows)
 * @param eps               COFT's radius
 * @param initWeights       true: zero init (R = I); false: PEFT's {@code init_weights=False}, normal(0, 0.1)
 * @param targetModules     which modules a model wraps (used by the trainer and written to adapter_config.json)
 * @param moduleDropout     PEFT's {@code module_dropout}: in training, each forward replaces {@code int(p * blocks)}
 *                          randomly chosen blocks of R by the identity (PEFT's {@code MultiplicativeDropoutLayer});
 *                          no effect with block sharing, in evaluation, or on the saved adapter
 * @param filter            {@code exclude_modules} and {@code layers_to_transform}
 */
public record OftConfig(int r, int blockSize, int neumannTerms, boolean useCayleyNeumann,
                        CayleyConvention exactConvention, boolean blockShare, boolean coft, double eps,
                        boolean initWeights, TargetModules targetModules, double moduleDropout,
                        TargetFilter filter) implements AdapterConfig {
    public static final int DEFAULT_BLOCK_SIZE = 32;
    public static final int DEFAULT_NEUMANN_TERMS = 5;
    public static final double DEFAULT_EPS = 6e-5;
    public static final int MAX_NEUMANN_TERMS = 8;

    public OftConfig {
        if (r < 0 || blockSize < 0 || (r == 0) == (blockSize == 0))
            throw new IllegalArgumentException("give exactly one of r (" + r + ") and oft_block_size (" + blockSize
                    + ") as a positive number, the other 0");
        if (neumannTerms < 1 || neumannTerms > MAX_NEUMANN_TERMS)
            throw new IllegalArgumentException("num_cayley_neumann_terms must be 1.." + MAX_NEUMANN_TERMS + ", got " + neumannTerms);
        if (!(eps > 0) || Double.isInfinite(eps)) throw new IllegalArgumentException("eps must be positive, got " + eps);
        if (exactConvention == null) throw new IllegalArgumentException("exact Cayley convention is required");
        if (targetModules == null) throw new IllegalArgumentException("target modules are required");
        if (!(moduleDropout >= 0 && moduleDropout < 1)) throw new IllegalArgumentException("module_dropout must be in [0, 1), got " + moduleDropout);
        if (filter == null) filter = TargetFilter.NONE;
    }

    /** Without module dropout or module filter (the fields PEFT's computation reads). */
    public OftConfig(int r, int blockSize, int neumannTerms, boolean useCayleyNeumann, CayleyConvention exactConvention, boolean blockShare,
                     boolean coft, double eps, boolean initWeights, TargetModules targetModules) {
        this(r, blockSize, neumannTerms, useCayleyNeumann, exactConvention, blockShare, coft, eps, initWeights, targetModules, 0.0, TargetFilter.NONE);
    }

    /** PEFT's defaults: b = 32, N = 5, Cayley–Neumann on, zero init; all linear layers of a Llama block. */
    public static OftConfig defaults() {
        return new OftConfig(0, DEFAULT_BLOCK_SIZE, DEFAULT_NEUMANN_TERMS, true, CayleyConvention.NEUMANN_CONSISTENT,
                false, false, DEFAULT_EPS, true, TargetModules.LLAMA_ALL_LINEAR);
    }

    public OftConfig withBlockSize(int b) {
        return new OftConfig(0, b, neumannTerms, useCayleyNeumann, exactConvention, blockShare, coft, eps, initWeights, targetModules, moduleDropout, filter);
    }

    /** Blocks per layer instead of a block size. */
    public OftConfig withR(int blocks) {
        return new OftConfig(blocks, 0, neumannTerms, useCayleyNeumann, exactConvention, blockShare, coft, eps, initWeights, targetModules, moduleDropout, filter);
    }

    public OftConfig withNeumannTerms(int n) {
        return new OftConfig(r, blockSize, n, useCayleyNeumann, exactConvention, blockShare, coft, eps, initWeights, targetModules, moduleDropout, filter);
    }

    /** Exact Cayley transform under {@code convention} instead of the series. */
    public OftConfig withExactCayley(CayleyConvention convention) {
        return new OftConfig(r, blockSize, neumannTerms, false, convention, blockShare, coft, eps, initWeights, targetModules, moduleDropout, filter);
    }

    public OftConfig withBlockShare(boolean on) {
        return new OftConfig(r, blockSize, neumannTerms, useCayleyNeumann, exactConvention, on, coft, eps, initWeights, targetModules, moduleDropout, filter);
    }

    public OftConfig withCoft(boolean on, double radius) {
        return new OftConfig(r, blockSize, neumannTerms, useCayleyNeumann, exactConvention, blockShare, on, radius, initWeights, targetModules, moduleDropout, filter);
    }

    public OftConfig withInitWeights(boolean zeros) {
        return new OftConfig(r, blockSize, neumannTerms, useCayleyNeumann, exactConvention, blockShare, coft, eps, zeros, targetModules, moduleDropout, filter);
    }

    public OftConfig withTargetModules(TargetModules targets) {
        return new OftConfig(r, blockSize, neumannTerms, useCayleyNeumann, exactConvention, blockShare, coft, eps, initWeights, targets, moduleDropout, filter);
    }

    public OftConfig withModuleDropout(double p) {
        return new OftConfig(r, blockSize, neumannTerms, useCayleyNeumann, exactConvention, blockShare, coft, eps, initWeights, targetModules, p, filter);
    }

    public OftConfig withFilter(TargetFilter f) {
        return new OftConfig(r, blockSize, neumannTerms, useCayleyNeumann, exactConvention, blockShare, coft, eps, initWeights, targetModules, moduleDropout, f);
    }

    @Override
    public String peftType() {
        return "OFT";
    }
}
