package org.qoft4j.adapters;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

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
            Tensor v = rotation.weight();
            int b = rotation.blockSize();
            Tensor r = CayleyNeumann.rotation(v, b, rotation.config().neumannTerms(), rotation.config().useCayleyNeumann(),
                    rotation.config().exactConvention());
            Tensor err = torch.bmm(r.transpose(1, 2), r).sub(CayleyNeumann.identity(r)).abs().max();
            Tensor qNorm = CayleyNeumann.skew(v, b).reshape(v.size(0), (long) b * b).norm(
                    new ScalarOptional(new Scalar(2.0)), new long[] {1}, false).max();
            return new LayerOrthogonality(module, err.item_double(), qNorm.item_double());
        }
    }

    /** The largest spectral norm {@code ||Q||_2} of the layer's blocks (what {@link CayleyNeumann#orthogonalityBound} reads). */
    public static double maxQSpectralNorm(OftRotation rotation) {
        try (NoGradGuard g = new NoGradGuard()) {
            return CayleyNeumann.maxSpectralNorm(CayleyNeumann.skew(rotation.weight(), rotation.blockSize()));
        }
    }

    /** One entry per OFT layer of {@code adapters} (LoRA layers are skipped), sorted by module path. */
    public static List<LayerOrthogonality> measure(Map<String, ? extends AdapterLayer> adapters) {
        List<LayerOrthogonality> out = new ArrayList<>();
        for (Map.Entry<String, ? extends AdapterLayer> e : new TreeMap<String, AdapterLayer>(adapters).entrySet())
            if (e.getValue() instanceof OftAdapter oft) out.add(measure(e.getKey(), oft.rotation()));
        return out;
    }
}
