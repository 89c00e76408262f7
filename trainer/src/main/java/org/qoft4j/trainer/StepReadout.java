package org.qoft4j.trainer;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.HostReads;

/**
 * The numbers an optimizer step reports, read from the device together: the step's summed loss, the gradient norm,
 * how many adapter values are not finite, and, on logging steps, the OFT orthogonality error. Everything before this
 * stays queued on the device, so a step costs one host sync ({@link HostReads}) instead of one per number
 * (docs/DESIGN.md, "One training step").
 *
 * @param nonFiniteAdapterValues non-finite values in the adapter parameters the step's update left
 * @param maxOrthogonalityError  null on steps that do not log it (and for LoRA)
 */
record StepReadout(double nllSum, double gradNorm, long nonFiniteAdapterValues, Double maxOrthogonalityError) {
    /**
     * @param nllSum      0-dim, the step's summed next-token loss
     * @param gradNorm    0-dim, the global gradient norm before clipping
     * @param nonFinite   0-dim count of non-finite adapter values, or null when there are no adapter parameters
     * @param orthogonal  0-dim, or null when not logged this step
     */
    static StepReadout read(Tensor nllSum, Tensor gradNorm, Tensor nonFinite, Tensor orthogonal) {
        List<Tensor> values = new ArrayList<>(List.of(nllSum, gradNorm));
        if (nonFinite != null) values.add(nonFinite);
        if (orthogonal != null) values.add(orthogonal);
        // doubles: a count of non-finite values stays exact, a loss sum keeps its precision
        Tensor[] asDouble = values.stream().map(t -> t.to(ScalarType.Double)).toArray(Tensor[]::new);
        double[] v = HostReads.doubles(torch.stack(new TensorVector(asDouble)));
        int i = 2;
        long bad = nonFinite == null ? 0 : (long) v[i++];
        return new StepReadout(v[0], v[1], bad, orthogonal == null ? null : v[i]);
    }

    /**
     * Whether 1-based step {@code step} of {@code total} reads the OFT diagnostics: every {@code log-every} steps, the
     * last, and every step that writes a checkpoint (a checkpoint is good only with finite rotations: an update can
     * leave finite parameters whose R^T R overflows).
     */
    static boolean logsDiagnostics(TrainConfig c, int step, int total) {
        if (!c.adapter().isOft()) return false;
        boolean saves = c.saveEvery() > 0 && step % c.saveEvery() == 0;
        return saves || step == total || (c.logEvery() > 0 && step % c.logEvery() == 0);
    }
}
