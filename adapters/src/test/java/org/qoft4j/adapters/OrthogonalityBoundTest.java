package org.qoft4j.adapters;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link CayleyNeumann#orthogonalityBound}: measured {@code max |R^T R - I|} (float64) never exceeds the bound
 * computed from the blocks' spectral norm, and the bound is tight (exact in the spectral norm) for even N.
 */
class OrthogonalityBoundTest {
    /** Skew-symmetric blocks {@code [blocks, b, b]} with Frobenius norm {@code qNorm} each. */
    private static Tensor blocks(long seed, int blocks, int b, double qNorm) {
        Tensor v = Fixtures.randn(seed, ScalarType.Double, blocks, (long) b * (b - 1) / 2);
        Tensor norms = v.norm(new ScalarOptional(new Scalar(2.0)), new long[] {1}, true).mul(new Scalar(Math.sqrt(2)));
        return CayleyNeumann.skew(v.div(norms).mul(new Scalar(qNorm)), b);
    }

    @Test
    void measuredErrorStaysUnderTheBoundForEveryN() {
        try (PointerScope s = new PointerScope()) {
            for (double qNorm : new double[] {0.1, 0.5, 1.0, 1.6}) {
                Tensor q = blocks(3, 16, 32, qNorm);
                double spectral = CayleyNeumann.maxSpectralNorm(q);
                assertTrue(spectral <= qNorm / Math.sqrt(2) + 1e-12, "||Q||_2 <= ||Q||_F / sqrt 2 for skew-symmetric Q");
                for (int n = 1; n <= OftConfig.MAX_NEUMANN_TERMS; n++) {
                    Tensor r = CayleyNeumann.neumann(q, n);
                    Tensor e = torch.bmm(r.transpose(1, 2), r).sub(CayleyNeumann.identity(q));
                    double measured = e.abs().max().item_double();
                    double bound = CayleyNeumann.orthogonalityBound(n, spectral);
                    assertTrue(measured <= bound * (1 + 1e-9) + 1e-13, "N = " + n + ", ||Q||_F " + qNorm + ": " + measured + " > bound " + bound);
                    if (n >= 3 && (Math.max(3, n - 1) % 2 == 1) && bound > 1e-12) {
                        // odd m: R^T R - I = -Q^(2m), whose spectral norm is exactly s^(2m)
                        double specE = Math.sqrt(torch.linalg_eigvalsh(torch.bmm(e.transpose(1, 2), e)).max().item_double());
                        assertEquals(bound, specE, 1e-9 * bound + 1e-14, "N = " + n + ": the bound is the spectral norm of the error");
                    }
                }
            }
        }
    }

    @Test
    void spectralNormOfAKnownBlock() {
        try (PointerScope s = new PointerScope()) {
            // a 2x2 rotation generator [[0, a], [-a, 0]] has ||Q||_2 = |a|
            Tensor q = CayleyNeumann.skew(org.qoft4j.core.Tensors.of(new double[] {0.3, -0.7}, 2, 1), 2);
            assertEquals(0.7, CayleyNeumann.maxSpectralNorm(q), 1e-12);
            assertEquals(4 * 0.49, CayleyNeumann.orthogonalityBound(2, 0.7), 1e-12);
            assertEquals(Math.pow(0.7, 6), CayleyNeumann.orthogonalityBound(4, 0.7), 1e-15);
            assertEquals(CayleyNeumann.orthogonalityBound(3, 0.7), CayleyNeumann.orthogonalityBound(4, 0.7), "N = 3 and 4 are one polynomial");
            assertEquals(2 * Math.pow(0.7, 4) + Math.pow(0.7, 8), CayleyNeumann.orthogonalityBound(5, 0.7), 1e-15);
            assertEquals(0.0, CayleyNeumann.orthogonalityBound(1, 0.7));
        }
    }
}
