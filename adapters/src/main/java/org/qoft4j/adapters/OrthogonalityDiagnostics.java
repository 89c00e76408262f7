package org.qoft4j.adapters;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.core.HostReads;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * How far each layer's R is from orthogonal, for training logs: the Neumann truncation leaves
 * {@code R^T R - I ≈ -2 Q^(N-1)} for odd N and {@code -Q^(2N-2)} for even N, so both the error and the size of Q
 * (the series converges only while ||Q|| < 1) are worth watching.
 */
public final class OrthogonalityDiagnostics {
    private OrthogonalityDiagnostics() {}

    /**
     * @param module               the module path
     * @param maxOrthogonalityError {@code max |R^T R - I|} over all entries of all blocks
     * @param maxQNorm             the largest Frobenius norm of a block's skew-symmetric Q
     */
    public record LayerOrthogonality(String module, double maxOrthogonalityError, double maxQNorm) {}

    public static LayerOrthogonality measure(String module, OftRotation rotation) {
        try (NoGradGuard g = new NoGradGuard()) {
            double[] v = HostReads.doubles(torch.stack(new TensorVector(orthogonalityError(rotation), maxQNorm(rotation)))); // one read
            return new LayerOrthogonality(module, v[0], v[1]);
        }
    }

    /** The largest spectral norm {@code ||Q||_2} of the layer's blocks (what {@link CayleyNeumann#orthogonalityBound} reads). */
    public static double maxQSpectralNorm(OftRotation rotation) {
        try (NoGradGuard g = new NoGradGuard()) {
            return CayleyNeumann.maxSpectralNorm(CayleyNeumann.skew(rotation.weight(), rotation.blockSize()));
        }
    }

    /** {@code max |R^T R - I|} of one layer as a 0-dim fp32 tensor on the parameter's device (not read: no host sync). */
    public static Tensor orthogonalityError(OftRotation rotation) {
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor v = rotation.weight();
            Tensor r = CayleyNeumann.rotation(v, rotation.blockSize(), rotation.config().neumannTerms(), rotation.config().useCayleyNeumann(),
                    rotation.config().exactConvention());
            return torch.bmm(r.transpose(1, 2), r).sub(CayleyNeumann.identity(r)).abs().max();
        }
    }

    /**
     * The largest {@code max |R^T R - I|} over every OFT layer of {@code adapters}, as one 0-dim tensor on their device
     * (not read), or null when none is OFT. The trainer reads it together with the step's loss: one host read.
     */
    public static Tensor maxOrthogonalityError(Map<String, ? extends AdapterLayer> adapters) {
        List<Tensor> errors = new ArrayList<>();
        for (AdapterLayer a : adapters.values()) if (a instanceof OftAdapter oft) errors.add(orthogonalityError(oft.rotation()));
        return errors.isEmpty() ? null : torch.stack(new TensorVector(errors.toArray(new Tensor[0]))).max();
    }

    private static Tensor maxQNorm(OftRotation rotation) {
        Tensor v = rotation.weight();
        int b = rotation.blockSize();
        return CayleyNeumann.skew(v, b).reshape(v.size(0), (long) b * b).norm(new ScalarOptional(new Scalar(2.0)), new long[] {1}, false).max();
    }

    /** One entry per OFT layer of {@code adapters} (LoRA layers are skipped), sorted by module path. */
    public static List<LayerOrthogonality> measure(Map<String, ? extends AdapterLayer> adapters) {
        List<LayerOrthogonality> out = new ArrayList<>();
        for (Map.Entry<String, ? extends AdapterLayer> e : new TreeMap<String, AdapterLayer>(adapters).entrySet())
            if (e.getValue() instanceof OftAdapter oft) out.add(measure(e.getKey(), oft.rotation()));
        return out;
    }
}
