package org.qoft4j.core.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;

/**
 * Fuzzes the header parser: any byte string must either parse into a header whose tensors tile the
 * data section exactly, or raise a {@link SafetensorsException} — never another exception, never a
 * JVM crash. Under {@code mvn verify} Jazzer runs in regression mode: only the seed inputs under
 * {@code src/test/resources/.../SafetensorsHeaderFuzzTestInputs/parse/} (milliseconds). A real campaign:
 * {@code JAZZER_FUZZ=1 mvn -pl core -am test -Dtest=SafetensorsHeaderFuzzTest -Dsurefire.failIfNoSpecifiedTests=false -Djazzer.hooks=true}
 * (60 s; about 3 million inputs on this project's 2-core machines, none failing).
 */
class SafetensorsHeaderFuzzTest {
    private static final Path FILE = Path.of("fuzz.safetensors");

    @FuzzTest(maxDuration = "60s")
    void parse(byte[] data) {
        SafetensorsHeader h;
        try {
            h = SafetensorsHeader.parse(FILE, data, data.length);
        } catch (SafetensorsException e) {
            assertEquals(FILE, e.file());
            return;
        }
        long covered = 0;
        for (TensorInfo t : h.tensors().values()) {
            assertEquals(t.numel() * t.dtype().size(), t.byteLength(), t.name());
            covered += t.byteLength();
        }
        assertEquals(data.length - h.dataStart(), covered);
    }
}
