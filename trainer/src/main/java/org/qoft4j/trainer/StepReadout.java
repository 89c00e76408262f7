package org.qoft4j.trainer;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.HostReads;

/**
 * The numbers an optimizer step reports, read from the device together: the step's summed loss, the gradient norm
 * and, on logging steps, the OFT orthogonality error. Everything before this stays queued on the device, so a step
 * costs one host sync ({@link HostReads}) instead of one per number (docs/DESIGN.md, "One training step").
 *
 * @param maxOrthogonalityError null on steps that do not log it (and for LoRA)
 */
record StepReadout(double nllSum, double gradNorm, Double maxOrthogonalityError) {
    /**
     * @param nllSum      0-dim, the step's summed next-token loss
     * @param gradNorm    0-dim, the global gradient norm before clipping
     * @param orthogonal  0-dim, or null when not logged this step
     */
    static StepReadout read(Tensor nllSum, Tensor gradNorm, Tensor orthogonal) {
        List<Tensor> values = new ArrayList<>(List.of(nllSum, gradNorm));
        if (orthogonal != null) values.add(orthogonal);
        Tensor[] asFloat = values.stream().map(t -> t.to(ScalarType.Float)).toArray(Tensor[]::new);
        double[] v = HostReads.doubles(torch.stack(new TensorVector(asFloat)));
        return new StepReadout(v[0], v[1], orthogonal == null ? null : v[2]);
    }

    /** Whether 1-based step {@code step} of {@code total} logs the OFT diagnostics: every {@code log-every} steps and the last. */
    static boolean logsDiagnostics(TrainConfig c, int step, int total) {
        return c.adapter().isOft() && c.logEvery() > 0 && (step % c.logEvery() == 0 || step == total);
    }
}
