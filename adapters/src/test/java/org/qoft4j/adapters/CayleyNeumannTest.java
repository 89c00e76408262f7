package org.qoft4j.adapters;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.qoft4j.core.Tensors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import static org.junit.jupiter.api.Assertions.*;

class CayleyNeumannTest {
    private static final Logger LOG = LoggerFactory.getLogger(CayleyNeumannTest.class);

    /** Stored vectors in double, scaled so that every block's Q has Frobenius norm {@code qNorm}. */
    private static Tensor vectors(long seed, int blocks, int b, double qNorm) {
        Tensor v = Fixtures.randn(seed, ScalarType.Double, blocks, (long) b * (b - 1) / 2);
        Tensor norms = v.norm(new org.bytedeco.pytorch.ScalarOptional(new Scalar(2.0)), new long[] {1}, true).mul(new Scalar(Math.sqrt(2)));
        return v.div(norms).mul(new Scalar(qNorm));
    }

    private static Tensor power(Tensor q, int k) {
        Tensor p = CayleyNeumann.identity(q);
        for (int i = 0; i < k; i++) p = torch.bmm(p, q);
        return p;
    }

    @Test
    void skewUsesRowMajorUpperTriangle() {
        try (PointerScope s = new PointerScope()) {
            Tensor q = CayleyNeumann.skew(Tensors.of(new double[] {1, 2, 3, 4, 5, 6}, 1, 6), 4);
            double[] m = Tensors.toDoubles(q);
            double[] expected = {
                    0, 1, 2, 3,
                    -1, 0, 4, 5,
                    -2, -4, 0, 6,
                    -3, -5, -6, 0};
            assertArrayEquals(expected, m, 0.0);
        }
    }

    @Test
    void workedExampleOfTheSpec() {
        try (PointerScope s = new PointerScope()) {
            OftConfig cfg = OftConfig.defaults().withBlockSize(2);
            var identity = new org.qoft4j.quant.linear.DenseLinear(torch.eye(4), null);
            OftLayer layer = new OftLayer(identity, cfg);
            layer.loadStateDict(java.util.Map.of(OftAdapter.WEIGHT_KEY, Tensors.of(new float[] {0.1f, -0.2f}, 2, 1)));
            assertArrayEquals(new float[] {0.9801f, 0.198f, -0.198f, 0.9801f, 0.9216f, -0.384f, 0.384f, 0.9216f},
                    Tensors.toFloats(layer.rotation().blocks()), 1e-6f);
            float[] y = Tensors.toFloats(layer.forward(Tensors.of(new float[] {1, 2, 3, 4}, 1, 4)));
            double[] expected = {0.5841, 2.1582, 4.3008, 2.5344};
            for (int i = 0; i < 4; i++)
                assertEquals(expected[i], Math.round(y[i] * 1e4) / 1e4, 1e-9, "x R [" + i + "] to 4 decimals");
            layer.close();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
    void seriesIsPeftFormula(int n) {
        try (PointerScope s = new PointerScope()) {
            Tensor q = CayleyNeumann.skew(vectors(1, 3, 5, 0.3), 5);
            Tensor expected = CayleyNeumann.identity(q);
            if (n >= 2) expected = expected.add(q, new Scalar(2.0));
            if (n >= 3) {
                int last = Math.max(3, n - 1);
                for (int k = 2; k < last; k++) expected = expected.add(power(q, k), new Scalar(2.0));
                expected = expected.add(power(q, last));
            }
            assertTrue(Fixtures.maxAbsDiff(CayleyNeumann.neumann(q, n), expected) < 1e-14);
        }
    }

    @Test
    void threeAndFourTermsGiveTheSameR() {
        try (PointerScope s = new PointerScope()) {
            Tensor q = CayleyNeumann.skew(vectors(2, 4, 8, 0.5).to(ScalarType.Float), 8);
            assertTrue(torch.equal(CayleyNeumann.neumann(q, 3), CayleyNeumann.neumann(q, 4)));
            assertFalse(torch.equal(CayleyNeumann.neumann(q, 4), CayleyNeumann.neumann(q, 5)));
        }
    }

    @Test
    void theTwoExactConventionsAreTransposesAndOrthogonal() {
        try (PointerScope s = new PointerScope()) {
            Tensor q = CayleyNeumann.skew(vectors(3, 3, 6, 0.7), 6);
            Tensor a = CayleyNeumann.exact(q, CayleyConvention.NEUMANN_CONSISTENT);
            Tensor b = CayleyNeumann.exact(q, CayleyConvention.PEFT_EXACT);
            assertTrue(Fixtures.maxAbsDiff(a, b.transpose(1, 2)) < 1e-14);
            assertTrue(Fixtures.maxAbsDiff(torch.bmm(a.transpose(1, 2), a), CayleyNeumann.identity(q)) < 1e-14);
            assertTrue(Fixtures.maxAbsDiff(a, b) > 0.1, "the conventions give different rotations");
        }
    }

    /** Halving Q must shrink |R_N - R_exact| by 2^(N-1) (N ≥ 4): the truncation is O(||Q||^(N-1)). */
    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4, 5, 6, 7})
    void seriesApproachesExactCayleyAtOrderNMinus1(int n) {
        try (PointerScope s = new PointerScope()) {
            double[] diffs = new double[2];
            double[] norms = {0.2, 0.1};
            for (int i = 0; i < 2; i++) {
                Tensor q = CayleyNeumann.skew(vectors(4, 3, 8, norms[i]), 8);
                diffs[i] = Fixtures.maxAbsDiff(CayleyNeumann.neumann(q, n), CayleyNeumann.exact(q, CayleyConvention.NEUMANN_CONSISTENT));
            }
            // N ≥ 4: the first missing term is Q^(N-1). N = 3 shares N = 4's polynomial (O(||Q||^3)); N = 2 (I + 2Q)
            // misses 2Q^2 + …, which is O(||Q||^2), one order better than the general bound.
            int order = n == 2 ? 2 : Math.max(3, n - 1);
            double ratio = diffs[0] / diffs[1];
            LOG.info("N = {}: |R_N - R_exact| = {} at ||Q|| = 0.2, {} at 0.1, ratio {} (expected ~{})",
                    n, diffs[0], diffs[1], ratio, Math.pow(2, order));
            assertEquals(Math.pow(2, order), ratio, 0.25 * Math.pow(2, order));
            assertTrue(diffs[0] < 3 * Math.pow(0.2, order), "error bounded by a small multiple of ||Q||^" + order);
        }
    }

    /**
     * For N ≥ 4, {@code R^T R = (I - (-Q)^(N-1))(I - Q^(N-1))} exactly; so the error scales as ||Q||^(N-1) for odd N
     * (≈ 2 Q^(N-1)) and as ||Q||^(2N-2) for even N.
     */
    @ParameterizedTest
    @ValueSource(ints = {4, 5, 6, 7, 8})
    void orthogonalityErrorLaw(int n) {
        try (PointerScope s = new PointerScope()) {
            double[] errs = new double[2];
            double[] norms = {0.4, 0.2};
            for (int i = 0; i < 2; i++) {
                Tensor q = CayleyNeumann.skew(vectors(5, 4, 8, norms[i]), 8);
                Tensor r = CayleyNeumann.neumann(q, n);
                Tensor rtr = torch.bmm(r.transpose(1, 2), r);
                Tensor eye = CayleyNeumann.identity(q);
                Tensor predicted = torch.bmm(eye.sub(power(q.neg(), n - 1)), eye.sub(power(q, n - 1)));
                assertTrue(Fixtures.maxAbsDiff(rtr, predicted) < 1e-14, "R^T R follows the product formula");
                errs[i] = rtr.sub(eye).abs().max().item_double();
            }
            int order = n % 2 == 1 ? n - 1 : 2 * n - 2;
            double ratio = errs[0] / errs[1];
            LOG.info("N = {}: max|R^T R - I| = {} at ||Q||_F = 0.4, {} at 0.2; ratio {} (law: 2^{} = {})",
                    n, errs[0], errs[1], ratio, order, Math.pow(2, order));
            assertEquals(Math.pow(2, order), ratio, 0.15 * Math.pow(2, order));
        }
    }

    /** The default N = 5 is less orthogonal than N = 4 (and N = 6 better than both), at the same Q. */
    @Test
    void fiveTermsAreLessOrthogonalThanFour() {
        try (PointerScope s = new PointerScope()) {
            for (double qNorm : new double[] {0.05, 0.1, 0.3}) {
                Tensor q = CayleyNeumann.skew(vectors(6, 64, 32, qNorm).to(ScalarType.Float).to(ScalarType.Double), 32);
                double[] err = new double[9];
                for (int n = 3; n <= 6; n++) {
                    Tensor r = CayleyNeumann.neumann(q, n);
                    err[n] = torch.bmm(r.transpose(1, 2), r).sub(CayleyNeumann.identity(q)).abs().max().item_double();
                }
                LOG.info("b = 32, ||Q||_F = {}: max|R^T R - I| N=4 {}  N=5 {}  N=6 {}", qNorm, err[4], err[5], err[6]);
                assertTrue(err[5] > 10 * err[4], "N = 5 error " + err[5] + " vs N = 4 " + err[4]);
                assertTrue(err[6] < err[4]);
            }
        }
    }

    /** Autograd's gradient of the rotation parameters against central finite differences, in double precision. */
    @ParameterizedTest
    @ValueSource(strings = {"neumann5", "neumann2", "neumann8", "exact", "exactPeft", "shared"})
    void gradientMatchesFiniteDifferences(String mode) {
        try (PointerScope s = new PointerScope()) {
            int b = 4, blocks = 3;
            boolean shared = mode.equals("shared");
            Tensor v = vectors(7, shared ? 1 : blocks, b, 0.6);
            Tensor x = Fixtures.randn(8, ScalarType.Double, 5, (long) blocks * b);
            Tensor g = Fixtures.randn(9, ScalarType.Double, 5, (long) blocks * b);
            java.util.function.Function<Tensor, Tensor> loss = p -> {
                Tensor r = switch (mode) {
                    case "exact" -> CayleyNeumann.rotation(p, b, 5, false, CayleyConvention.NEUMANN_CONSISTENT);
                    case "exactPeft" -> CayleyNeumann.rotation(p, b, 5, false, CayleyConvention.PEFT_EXACT);
                    case "neumann2" -> CayleyNeumann.rotation(p, b, 2, true, CayleyConvention.NEUMANN_CONSISTENT);
                    case "neumann8" -> CayleyNeumann.rotation(p, b, 8, true, CayleyConvention.NEUMANN_CONSISTENT);
                    default -> CayleyNeumann.rotation(p, b, 5, true, CayleyConvention.NEUMANN_CONSISTENT);
                };
                if (shared) r = r.expand(blocks, b, b);
                return OftRotation.rotate(x, r).mul(g).sum();
            };
            Tensor leaf = v.clone().set_requires_grad(true);
            torch.backward(new TensorVector(loss.apply(leaf)), new TensorVector(), new BoolOptional(false), false, new TensorVector());
            double[] analytic = Tensors.toDoubles(leaf.grad());
            double[] base = Tensors.toDoubles(v);
            double h = 1e-6, worst = 0;
            try (NoGradGuard ng = new NoGradGuard()) {
                for (int i = 0; i < base.length; i++) {
                    double[] plus = base.clone(), minus = base.clone();
                    plus[i] += h;
                    minus[i] -= h;
                    double fd = (loss.apply(Tensors.of(plus, Tensors.shape(v))).item_double()
                            - loss.apply(Tensors.of(minus, Tensors.shape(v))).item_double()) / (2 * h);
                    worst = Math.max(worst, Math.abs(fd - analytic[i]) / Math.max(1.0, Math.abs(fd)));
                }
            }
            assertTrue(worst < 1e-7, mode + ": worst relative gradient error " + worst);
            double gradNorm = 0;
            for (double a : analytic) gradNorm += a * a;
            assertTrue(gradNorm > 1e-6, "gradient is not trivially zero");
        }
    }

    @Test
    void coftProjectsLargeBlocksOntoTheRadius() {
        try (PointerScope s = new PointerScope()) {
            double eps = 0.01;
            int rows = 4;
            double radius = eps / Math.sqrt(rows);
            Tensor v = vectors(10, rows, 6, 1.0);
            // row 0 small enough to be left alone
            Tensor small = vectors(11, 1, 6, radius / 2);
            v = torch.cat(new TensorVector(small, v.narrow(0, 1, rows - 1)), 0);
            Tensor p = CayleyNeumann.coftProject(v, eps);
            double[] qn = Tensors.toDoubles(p.norm(new org.bytedeco.pytorch.ScalarOptional(new Scalar(2.0)), new long[] {1}, false).mul(new Scalar(Math.sqrt(2))));
            assertEquals(radius / 2, qn[0], 1e-15);
            assertTrue(torch.equal(p.narrow(0, 0, 1), v.narrow(0, 0, 1)), "a block inside the radius is untouched");
            for (int i = 1; i < rows; i++) assertEquals(radius, qn[i], 1e-12);
            // direction kept
            Tensor cos = p.narrow(0, 1, 1).mul(v.narrow(0, 1, 1)).sum().div(p.narrow(0, 1, 1).norm().mul(v.narrow(0, 1, 1).norm()));
            assertEquals(1.0, cos.item_double(), 1e-12);
        }
    }
}
