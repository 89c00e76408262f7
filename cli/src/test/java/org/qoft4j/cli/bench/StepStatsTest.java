package org.qoft4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.qoft4j.trainer.StepMetrics;

class StepStatsTest {
    @Test
    void median() {
        assertEquals(2.0, StepStats.median(List.of(3.0, 1.0, 2.0)));
        assertEquals(2.5, StepStats.median(List.of(4.0, 1.0, 3.0, 2.0)));
        assertTrue(Double.isNaN(StepStats.median(List.of())));
    }

    @Test
    void timedStepsSkipTheUntimedOnes() {
        List<StepMetrics> steps = List.of(step(1, 9.0), step(2, 1.0), step(3, 3.0), step(4, 2.0));
        StepStats s = StepStats.of(steps, 1);
        assertEquals(3, s.timedSteps());
        assertEquals(2.0, s.meanSeconds(), 1e-12);
        assertEquals(1.0, s.bestSeconds());
        assertEquals(2.0, s.medianSeconds());
        assertEquals(300 / 6.0, s.tokensPerS(), 1e-9);
    }

    private static StepMetrics step(int i, double seconds) {
        return new StepMetrics("train", i, 1.0, 1e-3, 0.5, 100, 90, 100 / seconds, seconds, 0, 0, null, null, null);
    }
}
