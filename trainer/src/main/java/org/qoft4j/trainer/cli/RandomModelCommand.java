package org.qoft4j.trainer.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.quant.hf.BnbQuantState;
import org.qoft4j.quant.safetensors.SafetensorsException;
import org.qoft4j.quant.testing.RandomHfModel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ./qoft4j random-model DIR}: a Llama-shaped Hugging Face directory with random weights, to try quantize/inspect on. */
@Command(name = "random-model", mixinStandardHelpOptions = true,
        description = "Write a Llama-shaped Hugging Face model directory with random weights (config.json + safetensors, optionally sharded).")
public final class RandomModelCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR", description = "directory to create (must not exist or be empty)")
    Path dir;

    @Option(names = "--vocab", defaultValue = "256") int vocab;
    @Option(names = "--hidden", defaultValue = "64") int hidden;
    @Option(names = "--intermediate", defaultValue = "128") int intermediate;
    @Option(names = "--layers", defaultValue = "2") int layers;
    @Option(names = "--heads", defaultValue = "4") int heads;
    @Option(names = "--kv-heads", defaultValue = "2") int kvHeads;
    @Option(names = "--dtype", defaultValue = "float32", description = "bfloat16, float16 or float32 (default: ${DEFAULT-VALUE})") String dtype;
    @Option(names = "--tied", description = "tie lm_head to the embeddings (no lm_head.weight)") boolean tied;
    @Option(names = "--shards", defaultValue = "1", description = "number of safetensors files (default: ${DEFAULT-VALUE})") int shards;
    @Option(names = "--seed", defaultValue = "42") long seed;

    @Override
    public Integer call() throws Exception {
        if (java.nio.file.Files.isDirectory(dir)) {
            try (var s = java.nio.file.Files.list(dir)) {
                if (s.findAny().isPresent()) throw new SafetensorsException(dir, null, "directory is not empty");
            }
        }
        torch.set_num_threads(Runtime.getRuntime().availableProcessors());
        RandomHfModel.Spec s = new RandomHfModel.Spec(vocab, hidden, intermediate, layers, heads, kvHeads, BnbQuantState.torchDtype(dtype),
                tied, shards, seed);
        RandomHfModel.write(dir, s);
        long bytes = RandomHfModel.entries(s).stream().mapToLong(e -> e.byteLength()).sum();
        spec.commandLine().getOut().printf(Locale.ROOT, "wrote %s: %d layers, hidden %d, %s weights in %d file(s)%n", dir, layers, hidden,
                ProcessMemory.human(bytes), shards);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
