package org.qoft4j.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** libgomp's wait policy is set before libtorch loads, left alone when the user chose one, and reported when too late. */
class OpenMpTest {
    private static String run(String first, String policy) throws IOException, InterruptedException {
        ProcessBuilder pb = ChildJvm.processBuilder(OpenMpProbe.class.getName(), List.of(), List.of(first));
        Map<String, String> env = pb.environment();
        env.remove(OpenMp.VARIABLE);
        if (policy != null) env.put(OpenMp.VARIABLE, policy);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        return out;
    }

    private static void assumeLibgomp() {
        org.bytedeco.pytorch.global.torch.get_num_threads(); // loads libtorch here
        Assumptions.assumeTrue(OpenMp.libgompLoaded(), "this platform's libtorch uses libgomp");
    }

    @Test
    void setBeforeLibtorchLoads() throws Exception {
        assumeLibgomp();
        String out = run("ours", null);
        assertTrue(out.contains("outcome=SET_HERE"), out);
        assertTrue(out.contains("policy=PASSIVE"), out);
        assertTrue(out.contains("libgomp-before=false libgomp-after=true"), "libgomp loaded after the variable was set: " + out);
    }

    @Test
    void theUsersChoiceStays() throws Exception {
        assumeLibgomp();
        String out = run("ours", "ACTIVE");
        assertTrue(out.contains("outcome=CHOSEN_BY_USER"), out);
        assertTrue(out.contains("policy=ACTIVE"), out);
    }

    @Test
    void tooLateIsSaid() throws Exception {
        assumeLibgomp();
        String out = run("torch", null);
        assertTrue(out.contains("outcome=TOO_LATE"), out);
        assertTrue(out.contains("export OMP_WAIT_POLICY=PASSIVE before starting the JVM"), "the warning names the fix: " + out);
        assertTrue(out.contains("policy=null"), out);
    }
}
