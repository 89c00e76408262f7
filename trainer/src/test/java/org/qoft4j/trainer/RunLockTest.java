package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.core.ChildJvm;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.quant.QuantSpec;

/** One run per output directory (issue 14, case 5), stale locks taken over, and leftovers of killed saves cleaned (case 9). */
class RunLockTest {
    @TempDir
    Path tmp;

    @Test
    void aSecondRunIsRefusedNamingTheHolder() {
        Path out = tmp.resolve("run");
        List<String> notes = new ArrayList<>();
        try (RunLock first = RunLock.acquire(out, notes::add)) {
            ConfigException e = assertThrows(ConfigException.class, () -> RunLock.acquire(out, notes::add));
            assertTrue(e.getMessage().contains(out + " is in use by another run (pid " + ProcessHandle.current().pid() + " on host "), e.getMessage());
            assertTrue(RunLock.owner(out).startsWith("pid " + ProcessHandle.current().pid()));
        }
        assertEquals("", RunLock.owner(out), "a run that ends releases its lock and clears the owner");
        try (RunLock again = RunLock.acquire(out, notes::add)) {
            assertEquals(List.of(), notes, "nothing to take over after a clean release");
        }
    }

    /** A run killed with SIGKILL cannot clean up; the kernel drops its lock, and the next run takes over, saying whose it was. */
    @Test
    void aLockOfAKilledProcessIsTakenOver() throws IOException, InterruptedException {
        Path out = tmp.resolve("run");
        Process holder = ChildJvm.processBuilder(RunLockHolder.class.getName(), List.of(), List.of(out.toString())).start();
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
            for (String line; !"locked".equals(line = r.readLine()); )
                if (line == null) throw new AssertionError("the lock holder exited with " + holder.waitFor());
            ConfigException e = assertThrows(ConfigException.class, () -> RunLock.acquire(out, n -> {}));
            assertTrue(e.getMessage().contains("in use by another run (pid " + holder.pid() + " on host "), e.getMessage());
        } finally {
            holder.destroyForcibly(); // kill -9: no chance to release anything
            assertTrue(holder.waitFor(30, TimeUnit.SECONDS));
        }
        List<String> notes = new ArrayList<>();
        try (RunLock taken = RunLock.acquire(out, notes::add)) {
            assertEquals(1, notes.size(), notes.toString());
            assertTrue(notes.get(0).contains("took over the lock") && notes.get(0).contains("pid " + holder.pid() + " on host"), notes.get(0));
            assertTrue(RunLock.owner(out).startsWith("pid " + ProcessHandle.current().pid()));
        }
    }

    @Test
    void aTrainerRefusesALockedDirectoryAndWritesNothing() throws IOException {
        Path data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), TinyLlama.countUp(4, 12, 1));
        Path out = tmp.resolve("run");
        TrainConfig c = TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, out), "steps=1", "eval-fraction=0", "oft-block-size=16");
        try (RunLock other = RunLock.acquire(out, n -> {})) {
            ConfigException e = assertThrows(ConfigException.class, () -> CheckpointResumeTest.run(c, 0));
            assertTrue(e.getMessage().contains("is in use by another run"), e.getMessage());
        }
        assertFalse(Files.exists(out.resolve(MetricsLog.FILE)));
        assertFalse(Files.exists(out.resolve("checkpoints")));
    }

    /** Hidden temporaries of interrupted writes go when the next run holds the lock; everything else stays. */
    @Test
    void leftoversOfInterruptedWritesAreRemovedOnceLocked() throws IOException {
        Path data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), TinyLlama.countUp(4, 12, 1));
        Path out = tmp.resolve("run");
        TrainConfig c = TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, out), "steps=2", "save-every=1", "keep-checkpoints=5",
                "eval-fraction=0", "oft-block-size=16");
        CheckpointResumeTest.run(c, 0);
        Path ck = out.resolve("checkpoints");
        List<Path> leftovers = List.of(ck.resolve(".step-000003.tmp-4k2j9x"), ck.resolve(".step-000001.old-123456789"), out.resolve(".adapter.tmp-zz1"));
        for (Path p : leftovers) {
            Files.createDirectories(p.resolve("adapter"));
            Files.writeString(p.resolve("optimizer.pt"), "half");
        }
        Path halfFile = Files.writeString(out.resolve(".metrics.jsonl.3v8k2m1q.tmp"), "{\"step\": 1");
        Path mine = Files.writeString(out.resolve(".my-notes"), "keep me"), alsoMine = Files.createDirectories(ck.resolve(".step-backup"));

        List<String> notes = new ArrayList<>();
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5);
             Finetune job = Finetune.open(TinyLlama.with(c, "resume=" + out, "steps=3"), m, null)) {
            job.trainer().addListener(new TrainingListener() {
                @Override
                public void onNote(String message) {
                    notes.add(message);
                }
            });
            job.train();
        }
        for (Path p : leftovers) assertFalse(Files.exists(p), p + " was left");
        assertFalse(Files.exists(halfFile));
        assertTrue(Files.exists(mine) && Files.exists(alsoMine), "only qoft4j's own temporaries are removed");
        assertTrue(notes.stream().anyMatch(n -> n.startsWith("removed 4 temporary file(s) or directories") && n.contains(".step-000003.tmp-4k2j9x")),
                notes.toString());
        assertEquals(List.of(ck.resolve("step-000001"), ck.resolve("step-000002"), ck.resolve("step-000003")), Checkpointer.list(ck));
    }
}
