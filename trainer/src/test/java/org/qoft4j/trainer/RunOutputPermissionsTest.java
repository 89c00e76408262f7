package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Everything a run writes — adapter/, checkpoints and each file in them, metrics.jsonl — gets the permissions the
 * umask gives a new file or directory (issue 14, case 9: they were 700 / 600, unreadable in a shared results
 * directory).
 */
class RunOutputPermissionsTest {
    @TempDir
    Path tmp;

    @Test
    void everyOutputFollowsTheUmask() throws IOException {
        assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"), "needs POSIX permissions");
        String dirMode = mode(Files.createDirectory(tmp.resolve("plain-dir"))), fileMode = mode(Files.createFile(tmp.resolve("plain-file")));
        Path data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), TinyLlama.countUp(4, 12, 1));
        Path out = tmp.resolve("run");
        CheckpointResumeTest.run(TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, out), "steps=1", "eval-fraction=0",
                "oft-block-size=16"), 0);
        List<String> wrong = new ArrayList<>();
        int checked = 0;
        try (Stream<Path> all = Files.walk(out)) {
            for (Path p : all.toList()) {
                String want = Files.isDirectory(p) ? dirMode : fileMode;
                if (!mode(p).equals(want)) wrong.add(out.relativize(p) + " is " + mode(p) + ", not " + want);
                checked++;
            }
        }
        assertTrue(checked >= 10, "the run wrote its adapter, a checkpoint and metrics (" + checked + " entries)");
        assertEquals(List.of(), wrong);
    }

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }
}
