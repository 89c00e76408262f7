package org.qoft4j.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Outputs honour the umask (issue 14, case 9): a directory or file written atomically gets the permissions a plain
 * {@code mkdir} or file creation gets in the same place — 755 and 644 under umask 022 — not the 700 / 600 of
 * Java's temporary files, which would hide a shared results directory from the team.
 */
class OutputPermissionsTest {
    @TempDir
    Path tmp;

    @Test
    void atomicOutputsGetWhatTheUmaskGivesAnyNewFile() throws IOException {
        assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"), "needs POSIX permissions");
        String dirMode = mode(Files.createDirectory(tmp.resolve("plain-dir"))), fileMode = mode(Files.createFile(tmp.resolve("plain-file")));

        Path out = tmp.resolve("checkpoint");
        AtomicDirectories.write(out, d -> {
            Files.createDirectories(d.resolve("adapter"));
            AtomicFiles.write(d.resolve("adapter/config.json"), new byte[] {'{', '}'});
            AtomicFiles.write(d.resolve("state.json"), new byte[] {'{', '}'});
        });
        assertEquals(dirMode, mode(out));
        assertEquals(dirMode, mode(out.resolve("adapter")));
        assertEquals(fileMode, mode(out.resolve("adapter/config.json")));
        assertEquals(fileMode, mode(out.resolve("state.json")));
        if (dirMode.equals("rwxr-xr-x")) assertEquals("rw-r--r--", fileMode, "umask 022"); // the case the issue reported
    }

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }
}
