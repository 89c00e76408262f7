package org.qoft4j.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where the committed {@code test-data/} directory is (a tiny model and datasets that {@code ./qoft4j generate-test-data}
 * regenerates; README, "The main job"): under the project directory
 * that {@code ./qoft4j} passes as {@code -Dqoft4j.home}, else the nearest {@code test-data} found walking up from the
 * working directory (so examples and tests find it from a module directory too).
 */
public final class TestData {
    private TestData() {}

    /** The {@code test-data} directory; a clear error when it cannot be found. */
    public static Path dir() {
        String home = System.getProperty("qoft4j.home");
        if (home != null) {
            Path d = Path.of(home, "test-data");
            if (Files.isDirectory(d.resolve("tiny-llama"))) return d.toAbsolutePath().normalize();
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path d = p.resolve("test-data");
            if (Files.isDirectory(d.resolve("tiny-llama"))) return d.normalize();
        }
        throw new IllegalStateException("test-data/tiny-llama not found under -Dqoft4j.home (" + home + ") or any parent of "
                + Path.of("").toAbsolutePath() + "; run from the qoft4j checkout or name the model and data explicitly");
    }

    public static boolean available() {
        try {
            dir();
            return true;
        } catch (IllegalStateException e) {
            return false;
        }
    }

    /** The tiny Llama that knows the base skill ("copy"). */
    public static Path model() {
        return dir().resolve("tiny-llama");
    }

    /** Training set of the new skill ("shift"), chat JSONL. */
    public static Path shiftTrain() {
        return dir().resolve("data/shift-train.jsonl");
    }

    /** Held-out new-skill examples. */
    public static Path shiftEval() {
        return dir().resolve("data/shift-eval.jsonl");
    }

    /** The demo's skill evaluations: the new skill to learn and the base skill not to forget (held-out examples). */
    public static Map<String, Path> skills() {
        Map<String, Path> m = new LinkedHashMap<>();
        m.put("new skill: shift", shiftEval());
        m.put("base skill: copy", copyEval());
        return m;
    }

    /** Held-out base-skill examples: accuracy after finetuning measures forgetting. */
    public static Path copyEval() {
        return dir().resolve("data/copy-eval.jsonl");
    }
}
