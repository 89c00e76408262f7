package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
    @Test
    void linearWarmupThenCosineToTheFloor() {
        LrSchedule s = new LrSchedule(1e-3, 4, 14, 0.1);
        assertEquals(0.25e-3, s.at(0), 1e-15);
        assertEquals(0.50e-3, s.at(1), 1e-15);
        assertEquals(0.75e-3, s.at(2), 1e-15);
        assertEquals(1.00e-3, s.at(3), 1e-15);
        assertEquals(1.00e-3, s.at(4), 1e-15); // first decay step: cos(0)
        // decay over steps 4..13 (9 intervals): halfway (step 8.5) is the mean of peak and floor
        double mid = 0.1e-3 + 0.9e-3 * 0.5 * (1 + Math.cos(Math.PI * 4 / 9));
        assertEquals(mid, s.at(8), 1e-15);
        assertEquals(0.1e-3, s.at(13), 1e-15); // last step lands on the floor
        assertEquals(0.1e-3, s.at(20), 1e-15); // past the end it stays there
        for (int i = 4; i < 13; i++) assertTrue(s.at(i + 1) < s.at(i), "decreasing at " + i);
    }

    @Test
    void noWarmupStartsAtThePeak() {
        LrSchedule s = new LrSchedule(2e-4, 0, 5, 0);
        assertEquals(2e-4, s.at(0), 1e-18);
        assertEquals(1e-4, s.at(2), 1e-18);
        assertEquals(0, s.at(4), 1e-18);
    }

    @Test
    void allWarmupEndsAtThePeakAndOneStepRunsAtThePeak() {
        LrSchedule s = new LrSchedule(1.0, 3, 3, 0.5);
        assertEquals(1.0 / 3, s.at(0), 1e-15);
        assertEquals(1.0, s.at(2), 1e-15);
        assertEquals(1.0, new LrSchedule(1.0, 0, 1, 0.5).at(0), 1e-15);
    }

    @Test
    void badArgumentsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(0, 1, 10, 0));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1, -1, 10, 0));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1, 1, 10, 1.5));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1, 1, 10, 0).at(-1));
    }
}
