package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The decisions of {@link ThreadGovernor} on given measurements, and that the machine's counters can be read here. */
class ThreadGovernorTest {
    @Test
    void dropsToOneThreadAfterThreeSharedStepsAndReturnsWhenACoreStaysIdle() {
        ThreadGovernor g = new ThreadGovernor(4, m -> {}, true);
        assertEquals(4, g.observe(0.5, 0));
        assertEquals(4, g.observe(0.5, 0));
        assertEquals(4, g.observe(0.95, 0), "a step with the cores to itself resets the count");
        assertEquals(4, g.observe(0.6, 0));
        assertEquals(4, g.observe(0.6, 0));
        assertEquals(1, g.observe(0.6, 0), "three shared steps in a row");
        // on one thread only the machine's idle cores count (its own utilization is ~1 whatever the others do)
        assertEquals(1, g.observe(0.2, 0.1));
        assertEquals(1, g.observe(1.0, 1.5));
        assertEquals(1, g.observe(1.0, 1.5));
        assertEquals(1, g.observe(1.0, 0.3), "a busy step resets the count");
        for (int i = 0; i < 2; i++) assertEquals(1, g.observe(1.0, 0.9));
        assertEquals(4, g.observe(1.0, 0.9), "three steps with most of a core idle");
        assertEquals(4, g.threads());
    }

    @Test
    void aQuietRunNeverSwitches() {
        ThreadGovernor g = new ThreadGovernor(2, m -> {}, true);
        for (int i = 0; i < 50; i++) assertEquals(2, g.observe(0.72 + 0.25 * (i % 2), 0.0));
    }

    @Test
    void offOnOneCore() {
        List<String> notes = new ArrayList<>();
        ThreadGovernor oneCore = new ThreadGovernor(1, notes::add, true);
        oneCore.beforeStep();
        oneCore.afterStep(1);
        assertEquals(1, oneCore.threads());
        assertTrue(notes.isEmpty());
    }

    @Test
    void readsTheMachineCountersOnLinux() {
        Assumptions.assumeTrue(System.getProperty("os.name").toLowerCase().contains("linux"), "/proc/stat is Linux's");
        long[] stat = ThreadGovernor.readStat();
        assertNotNull(stat, "/proc/stat's cpu line");
        assertTrue(stat[0] > 0 && stat[1] >= 0 && stat[1] <= stat[0], "total " + stat[0] + ", idle " + stat[1]);
    }
}
