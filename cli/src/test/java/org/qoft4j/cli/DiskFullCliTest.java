package org.qoft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.core.ChildJvm;
import org.qoft4j.trainer.AdapterOptimizer;
import org.qoft4j.trainer.Checkpointer;
import org.qoft4j.trainer.TinyLlama;

/**
 * Issue 14, case 1, on a real full disk: {@code finetune} in a child JVM writing to a tmpfs too small for its second
 * checkpoint, sized so the disk fills inside libtorch's optimizer archive — the path that killed the JVM (exit 134,
 * "terminate called after throwing an instance of 'c10::Error' ... unexpected pos", measured before the fix). Now: exit
 * 2, one line naming the checkpoint and the file, the first checkpoint intact, and the run resumes from it.
 *
 * <p>Mounting a tmpfs needs no root inside a user and mount namespace ({@code unshare -r -m}); where the kernel or the
 * container forbids those, the test is skipped (the same failures are injected in-process by
 * {@code CheckpointFaultInjectionTest} and {@code AdapterOptimizerTest}).
 */
class DiskFullCliTest {
    static final long PAGE = 4096;
    /** The script's exit status when the tmpfs cannot be mounted. */
    static final int NO_MOUNT = 77;

    @TempDir
    Path dir;

    @Test
    void aFullDiskWhileCheckpointingIsExitTwoAndTheEarlierCheckpointResumes() throws IOException, InterruptedException {
        assumeTrue(run(List.of("unshare", "-r", "-m", "true")) == 0, "user and mount namespaces are not available here (unshare -r -m)");
        Path model = TinyLlama.writeDir(dir.resolve("model"), 5);
        Path data = TinyLlama.writeJsonl(dir.resolve("train.jsonl"), TinyLlama.countUp(12, 20, 3));
        List<String> train = List.of("--model", model.toString(), "--data", data.toString(), "--save-every", "1", "--keep-checkpoints", "5",
                "--batch-size", "2", "--seq-len", "32", "--eval-fraction", "0", "--oft-block-size", "16", "--threads", "1", "--no-progress");

        // what one checkpoint takes on a tmpfs (whole pages), from a run on this disk
        List<String> probe = new ArrayList<>(List.of("finetune", "--out", dir.resolve("probe").toString(), "--steps", "1"));
        probe.addAll(train);
        assertEquals(0, Qoft4jCommand.commandLine().execute(probe.toArray(String[]::new)));
        Path one = dir.resolve("probe/checkpoints/step-000001");
        long checkpoint = pages(one), adapter = pages(one.resolve(Checkpointer.ADAPTER_DIR)), optimizer = pages(one.resolve(AdapterOptimizer.FILE));
        // the first checkpoint, metrics.jsonl and the lock file fit; the second fills the disk halfway through optimizer.pt
        long size = checkpoint + 2 * PAGE + adapter + optimizer / 2;

        Path mnt = Files.createDirectories(dir.resolve("mnt")), saved = dir.resolve("saved");
        List<String> finetune = new ArrayList<>(List.of("finetune", "--out", mnt.resolve("run").toString(), "--steps", "3"));
        finetune.addAll(train);
        List<String> cmd = new ArrayList<>(List.of("unshare", "-r", "-m", "sh", "-c",
                "mount -t tmpfs -o size=" + size / 1024 + "k tmpfs \"$1\" || exit " + NO_MOUNT + "; m=$1; s=$2; shift 2; \"$@\"; rc=$?; "
                        + "cp -a \"$m/run\" \"$s\"; exit $rc", "sh", mnt.toString(), saved.toString()));
        cmd.addAll(ChildJvm.processBuilder(Qoft4jCommand.class.getName(), List.of(), finetune).command());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES));
        assumeTrue(p.exitValue() != NO_MOUNT, "cannot mount a tmpfs in a user namespace here: " + output);

        assertEquals(2, p.exitValue(), output);
        List<String> errors = output.lines().filter(l -> l.startsWith("error: ")).toList();
        assertEquals(1, errors.size(), output);
        Path second = mnt.resolve("run/checkpoints/step-000002"), first = mnt.resolve("run/checkpoints/step-000001");
        assertTrue(errors.get(0).startsWith("error: no space left on device writing checkpoint " + second + " (" + AdapterOptimizer.FILE + ")")
                && errors.get(0).contains("the newest checkpoint, " + first + ", is intact"), errors.get(0));
        assertTrue(!output.contains("terminate called") && !output.contains("c10::Error"), output);

        Path ck = saved.resolve("checkpoints");
        assertEquals(List.of(ck.resolve("step-000001")), Checkpointer.list(ck));
        try (Stream<Path> s = Files.list(ck)) {
            assertEquals(List.of("step-000001"), s.map(x -> x.getFileName().toString()).toList(), "no temporary directory is left");
        }
        int resumed = Qoft4jCommand.commandLine().execute("finetune", "--resume", saved.toString(), "--out", saved.toString(), "--no-progress");
        assertEquals(0, resumed);
        assertEquals(3, Checkpointer.state(Checkpointer.resolve(saved)).step());
    }

    /** Bytes a file or tree occupies on a tmpfs: each file rounded up to whole pages. */
    static long pages(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            long total = 0;
            for (Path f : s.filter(Files::isRegularFile).toList()) total += (Files.size(f) + PAGE - 1) / PAGE * PAGE;
            return total;
        }
    }

    static int run(List<String> cmd) throws InterruptedException {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor();
        } catch (IOException e) {
            return -1;
        }
    }
}
