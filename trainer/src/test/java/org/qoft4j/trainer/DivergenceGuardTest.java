package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The rules of {@link DivergenceGuard} one by one: what stops, what only warns, and the advice. */
class DivergenceGuardTest {
    @TempDir
    Path tmp;

    @Test
    void zeroGradientAtAUniformLossIsADeadRunElsewhereAWarning() {
        List<String> warnings = new ArrayList<>();
        DivergenceGuard g = new DivergenceGuard(new Checkpointer(tmp.resolve("checkpoints"), 2), 96, 0.01, warnings::add);
        g.checkForward(1, 3.2, 0.7);
        g.checkForward(2, 2.0, 0.0); // no gradient, but the loss is not the uniform one: said once
        g.checkForward(3, 2.0, 0.0);
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("step 2: the gradient norm is 0"), warnings.get(0));
        g.checkForward(4, Math.log(96) * (1 + 1e-3), 0.0); // near, not at, ln(vocab)
        TrainingDivergedException dead = assertThrows(TrainingDivergedException.class, () -> g.checkForward(5, Math.log(96) * (1 + 1e-6), 0.0));
        assertEquals(5, dead.step());
        assertTrue(dead.getMessage().contains("the run is dead") && dead.getMessage().contains("no good checkpoint"), dead.getMessage());
        assertThrows(TrainingDivergedException.class, () -> g.checkForward(6, Double.NaN, 1.0));
        assertThrows(TrainingDivergedException.class, () -> g.checkForward(6, 1.0, Double.POSITIVE_INFINITY));
    }

    @Test
    void theAdviceNamesTheLastGoodCheckpointAndALowerLearningRate() {
        DivergenceGuard g = new DivergenceGuard(new Checkpointer(tmp.resolve("checkpoints"), 2), 96, 2e-4, w -> {});
        Path ck = tmp.resolve("checkpoints/step-000010");
        g.checkpointed(ck, 10);
        TrainingDivergedException e = assertThrows(TrainingDivergedException.class, () -> g.checkForward(15, Double.NaN, 1.0));
        assertTrue(e.getMessage().contains("the last good checkpoint is " + ck + "; continue from it with a lower learning rate: --resume " + ck
                + " lr=0.00002"), e.getMessage());
        assertEquals("1E+8", DivergenceGuard.lower(1e9));
    }
}
