package org.qoft4j.trainer.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The torchrun environment contract and the launcher flags: parsed, validated, and clear when wrong. */
class DistEnvTest {
    static Map<String, String> torchrun(String rank, String world, String localRank, String localWorld) {
        Map<String, String> env = new HashMap<>();
        if (rank != null) env.put("RANK", rank);
        if (world != null) env.put("WORLD_SIZE", world);
        if (localRank != null) env.put("LOCAL_RANK", localRank);
        if (localWorld != null) env.put("LOCAL_WORLD_SIZE", localWorld);
        env.put("MASTER_ADDR", "node0.example");
        env.put("MASTER_PORT", "29500");
        return env;
    }

    @Test
    void readsTheContract() {
        DistEnv e = DistEnv.fromEnvironment(torchrun("3", "4", "1", "2")).orElseThrow();
        assertEquals(new DistEnv(3, 4, 1, 2, "node0.example", 29500), e);
        assertTrue(e.distributed());
        assertEquals(e, DistEnv.fromEnvironment(e.toEnvironment()).orElseThrow(), "round trip");
        // one process per machine: LOCAL_* may be left out
        assertEquals(new DistEnv(1, 2, 0, 1, "node0.example", 29500), DistEnv.fromEnvironment(torchrun("1", "2", null, null)).orElseThrow());
    }

    @Test
    void absentMeansSingleProcess() {
        Map<String, String> env = new HashMap<>();
        env.put("MASTER_ADDR", "x");  // alone it does not make a distributed run
        assertEquals(Optional.empty(), DistEnv.fromEnvironment(env));
        assertTrue(!DistEnv.single().distributed() && DistEnv.single().master());
    }

    @Test
    void badEnvironmentsNameTheVariable() {
        assertMessage(torchrun("1", null, null, null), "WORLD_SIZE not set");
        Map<String, String> noPort = torchrun("0", "2", null, null);
        noPort.remove("MASTER_PORT");
        assertMessage(noPort, "MASTER_PORT not set");
        assertMessage(torchrun("2", "2", null, null), "RANK must be in 0..1 for WORLD_SIZE=2, got 2");
        assertMessage(torchrun("x", "2", null, null), "RANK must be an integer, got 'x'");
        assertMessage(torchrun("0", "2", "0", null), "LOCAL_RANK and LOCAL_WORLD_SIZE go together");
        assertMessage(torchrun("0", "4", "2", "2"), "LOCAL_RANK must be in 0..1 for LOCAL_WORLD_SIZE=2, got 2");
        Map<String, String> badPort = torchrun("0", "2", null, null);
        badPort.put("MASTER_PORT", "70000");
        assertMessage(badPort, "MASTER_PORT must be in 1..65535, got 70000");
    }

    @Test
    void launchPlanGivesEachWorkerItsRank() {
        LaunchPlan p = new LaunchPlan(2, 1, 4, "10.0.0.1", 29500);
        assertEquals(8, p.worldSize());
        assertEquals(new DistEnv(6, 8, 2, 4, "10.0.0.1", 29500), p.worker(2));
        LaunchPlan standalone = LaunchPlan.standalone(2).withFreePortIfUnset();
        assertTrue(standalone.masterPort() > 0 && standalone.masterAddr().equals("127.0.0.1"));
        assertEquals(new DistEnv(1, 2, 1, 2, "127.0.0.1", standalone.masterPort()), standalone.worker(1));
    }

    @Test
    void badLaunchFlagsAreClear() {
        assertPlan(() -> new LaunchPlan(2, 0, 1, "10.0.0.1", 0), "--master-port is required with --nnodes 2");
        assertPlan(() -> new LaunchPlan(2, 0, 1, null, 29500), "--master-addr is required with --nnodes 2");
        assertPlan(() -> new LaunchPlan(2, 0, 1, "127.0.0.1", 29500), "loopback address");
        assertPlan(() -> new LaunchPlan(2, 2, 1, "10.0.0.1", 29500), "--node-rank must be in 0..1 for --nnodes 2, got 2");
        assertPlan(() -> new LaunchPlan(1, 0, 0, null, 0), "--nproc-per-node must be at least 1, got 0");
    }

    private static void assertMessage(Map<String, String> env, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DistEnv.fromEnvironment(env));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    private static void assertPlan(org.junit.jupiter.api.function.Executable make, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, make);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
