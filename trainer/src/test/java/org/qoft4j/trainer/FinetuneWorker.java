package org.qoft4j.trainer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A data-parallel worker for {@link DataParallelTrainingTest}, started in a child JVM with the torchrun environment:
 * {@code FinetuneWorker [pause-after=STEP@RANK@MARKER_FILE] KEY=VALUE...} runs {@link Finetune#run} on the defaults
 * with the overrides. With {@code pause-after}, rank RANK writes MARKER_FILE after step STEP and then sleeps until it
 * is killed (the test's way to kill a worker at a known point of a run that would otherwise finish in a second).
 * Errors end the JVM with status 1 and one line on stderr, as {@code ./qoft4j} reports them.
 */
public final class FinetuneWorker {
    private FinetuneWorker() {}

    public static void main(String[] args) throws Exception {
        List<String> overrides = new ArrayList<>();
        String pause = null;
        for (String a : args) {
            if (a.startsWith("pause-after=")) pause = a.substring("pause-after=".length());
            else overrides.add(a);
        }
        try (Finetune job = Finetune.open(TrainConfig.defaults().with(overrides.toArray(String[]::new)))) {
            if (pause != null) {
                String[] p = pause.split("@", 3);
                int step = Integer.parseInt(p[0]), rank = Integer.parseInt(p[1]);
                Path marker = Path.of(p[2]);
                job.trainer().onStep(m -> {
                    if (m.step() != step || job.rank() != rank) return;
                    try {
                        Files.writeString(marker, Long.toString(ProcessHandle.current().pid()));
                        Thread.sleep(Long.MAX_VALUE);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
            }
            job.train();
        } catch (RuntimeException e) {
            System.err.println("error: " + e.getMessage());
            System.err.flush();
            System.exit(1);
        }
        System.exit(0);
    }
}
