package org.qoft4j.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.qoft4j.cli.testdata.TestDataGenerator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code qoft4j generate-test-data}: regenerates the committed tiny model and skill datasets (deterministic). */
@Command(name = "generate-test-data", mixinStandardHelpOptions = true,
        description = "Regenerate test-data/: a tiny byte-level Llama pre-trained on a 'copy' skill, and chat datasets for a new 'shift' skill.")
public final class GenerateTestDataCommand implements Callable<Integer> {
    @Option(names = "--out", description = "output directory (default: the project's test-data)") Path out;
    @Option(names = "--steps", description = "pre-training steps (default: 1500)") int steps = 1500;

    @Override
    public Integer call() throws Exception {
        TestDataGenerator.generate(out != null ? out : DemoJob.home().resolve("test-data"), steps, System.out);
        return 0;
    }
}
