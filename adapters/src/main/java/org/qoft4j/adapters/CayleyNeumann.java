package org.qoft4j.adapters;

import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.core.HostReads;
import org.qoft4j.core.Tensors;

/**
 * The Cayley–Neumann parameterization, batched over blocks and built from differentiable libtorch ops only
 * (index_select, sub, bmm, add, linalg_solve), so autograd carries gradients back to the stored vectors.
 * Works in the dtype of its input (float32 for adapters, float64 in the gradient checks).
 */
public final class CayleyNeumann {
    private CayleyNeumann() {}

    /**
     * Skew-symmetric matrices from stored upper triangles: {@code vec [m, b(b-1)/2]} (row-major pairs (0,1), (0,2),
     * …, (1,2), …) to {@code Q [m, b, b]} with {@code Q[i][j] = v[k]}, {@code Q[j][i] = -v[k]}.
     */
    public static Tensor skew(Tensor vec, int b) {
        return skew(vec, upperTriangleIndex(b, vec));
    }

    /** {@link #skew(Tensor, int)} with a precomputed {@link #upperTriangleIndex} (on vec's device). */
    static Tensor skew(Tensor vec, Tensor index) {
        long m = vec.size(0), n = vec.size(1);
        int b = (int) Math.round(Math.sqrt(index.numel()));
        if (n != (long) b * (b - 1) / 2)
            throw new IllegalArgumentException("a block of size " + b + " stores " + (long) b * (b - 1) / 2 + " values, got " + n);
        // Gather from [vec | 0]: the index map sends each (i, j), i < j, to its k and everything else to the zero column.
        Tensor padded = torch.cat(new TensorVector(vec, torch.zeros(new long[] {m, 1}, vec.options())), 1); // [m, n+1]
        Tensor upper = padded.index_select(1, index).reshape(m, b, b);
        return upper.sub(upper.transpose(1, 2));
    }

    /** {@code [b*b]} indices into {@code [vec | 0]}, on the device of {@code like}. */
    static Tensor upperTriangleIndex(int b, Tensor like) {
        long zero = (long) b * (b - 1) / 2;
        long[] idx = new long[b * b];
        int k = 0;
        for (int i = 0; i < b; i++)
            for (int j = 0; j < b; j++) idx[i * b + j] = j > i ? k++ : zero;
        Tensor t = Tensors.ofLongs(idx, idx.length);
        return like.device().is_cpu() ? t : t.to(like.device(), torch.ScalarType.Long);
    }

    /**
     * The truncated Cayley–Neumann rotation, PEFT ≥ 0.18 formula, {@code Q [m, b, b] -> R [m, b, b]}:
     * N = 1: I; N = 2: I + 2Q; N ≥ 3: {@code I + 2(Q + … + Q^max(2, N-2)) + Q^max(3, N-1)} (so N = 3 and 4 agree).
     * Summed by powers in PEFT's order, so the rounding matches PEFT's.
     */
    public static Tensor neumann(Tensor q, int terms) {
        if (terms < 1 || terms > OftConfig.MAX_NEUMANN_TERMS)
            throw new IllegalArgumentException("Neumann terms must be 1.." + OftConfig.MAX_NEUMANN_TERMS + ", got " + terms);
        Tensor r = identity(q);
        if (terms == 1) return r;
        Scalar two = new Scalar(2.0);
        r = r.add(q, two);
        if (terms == 2) return r;
        Tensor power = torch.bmm(q, q);
        r = r.add(power, two);
        for (int k = 3; k < terms - 1; k++) {
            power = torch.bmm(power, q);
            r = r.add(power, two);
        }
        return r.add(torch.bmm(power, q));
    }

    /**
     * An upper bound on {@code max |R^T R - I|} for the N-term series of a skew-symmetric block whose spectral norm
     * is {@code s = ||Q||_2} (exact arithmetic; float32 rounding adds ~1e-7). With m = max(3, N - 1) the series is
     * {@code (I + Q)(I - Q^m)(I - Q)^-1}, so {@code R^T R = (I - (-Q)^m)(I - Q^m)}, all factors commuting. Odd m
     * (even N, and N = 3): {@code R^T R - I = -Q^(2m)}, spectral norm exactly s^(2m). Even m (odd N >= 5):
     * {@code -2 Q^m + Q^(2m)}, at most 2 s^m + s^(2m). N = 2: {@code R = I + 2Q}, {@code R^T R - I = -4 Q^2}, 4 s².
     * N = 1: R = I, 0. An entry of a matrix is at most its spectral norm. ({@code ||Q||_F / sqrt(2)} is a cheaper
     * upper bound on s: the eigenvalues of a real skew-symmetric matrix are ±i·λ, so ||Q||_F² = 2 Σ λ².)
     * Derivation: docs/DESIGN.md.
     */
    public static double orthogonalityBound(int terms, double s) {
        if (terms < 1 || terms > OftConfig.MAX_NEUMANN_TERMS)
            throw new IllegalArgumentException("Neumann terms must be 1.." + OftConfig.MAX_NEUMANN_TERMS + ", got " + terms);
        if (terms == 1) return 0.0;
        if (terms == 2) return 4 * s * s;
        int m = Math.max(3, terms - 1);
        return m % 2 == 1 ? Math.pow(s, 2 * m) : 2 * Math.pow(s, m) + Math.pow(s, 2 * m);
    }

    /** The largest spectral norm {@code ||Q_i||_2} over the blocks of {@code Q [m, b, b]} (skew-symmetric): sqrt of -Q²'s top eigenvalue. */
    public static double maxSpectralNorm(Tensor q) {
        Tensor negSquare = torch.bmm(q, q).neg();                      // Q^T Q = -Q^2, symmetric PSD
        return Math.sqrt(Math.max(0.0, HostReads.scalar(torch.linalg_eigvalsh(negSquare).max())));
    }

    /** The exact Cayley transform of {@code Q [m, b, b]} under {@code convention}, by a batched linear solve. */
    public static Tensor exact(Tensor q, CayleyConvention convention) {
        Tensor eye = identity(q);
        Tensor plus = eye.add(q), minus = eye.sub(q);
        // linalg_solve(A, B, left = false) solves X A = B.
        return convention == CayleyConvention.NEUMANN_CONSISTENT
                ? torch.linalg_solve(minus, plus, false)  // (I + Q)(I - Q)^-1
                : torch.linalg_solve(plus, minus, false); // (I - Q)(I + Q)^-1
    }

    /** Rotations from stored vectors: {@code vec [m, b(b-1)/2] -> R [m, b, b]}. */
    public static Tensor rotation(Tensor vec, int b, int terms, boolean useNeumann, CayleyConvention convention) {
        return rotation(skew(vec, b), terms, useNeumann, convention);
    }

    /** Rotations from skew-symmetric {@code Q [m, b, b]}. */
    static Tensor rotation(Tensor q, int terms, boolean useNeumann, CayleyConvention convention) {
        return useNeumann ? neumann(q, terms) : exact(q, convention);
    }

    /**
     * COFT's projection (PEFT's {@code _project_batch}): each block's Q is rescaled to Frobenius norm
     * {@code eps / sqrt(m)} when it is larger; returns the new stored vectors {@code [m, n]} (no autograd history).
     */
    public static Tensor coftProject(Tensor vec, double eps) {
        Tensor v = vec.detach();
        double radius = eps / Math.sqrt(v.size(0));
        // ||Q||_F = sqrt(2) ||v||: each stored value appears twice in Q, once negated.
        Tensor qNorm = v.norm(new ScalarOptional(new Scalar(2.0)), new long[] {1}, true)
                .mul(new Scalar(Math.sqrt(2.0)));                           // [m, 1]
        Tensor scale = torch.clamp_max(qNorm.reciprocal().mul(new Scalar(radius)), new Scalar(1.0)); // 1 / 0 = inf -> 1
        return v.mul(scale);
    }

    /** Identity matrices shaped like {@code q [m, b, b]}. */
    static Tensor identity(Tensor q) {
        long b = q.size(-1);
        return torch.eye(b, new TensorOptions(q.scalar_type()).device(new DeviceOptional(q.device()))).expand(q.size(0), b, b);
    }
}
