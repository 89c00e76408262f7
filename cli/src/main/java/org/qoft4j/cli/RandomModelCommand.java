package org.qoft4j.cli;

import org.qoft4j.core.CpuThreads;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.ComputeDtype;
import org.qoft4j.core.DeviceSpec;
import org.qoft4j.core.HfJson;
import org.qoft4j.core.Human;
import org.qoft4j.core.safetensors.DType;
import org.qoft4j.core.safetensors.SafetensorsException;
import org.qoft4j.model.HfModelWriter;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.model.RandomLlama;
import org.qoft4j.model.RandomWeights;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ./qoft4j random-model DIR}: a Llama-shaped Hugging Face directory with random weights ({@link RandomLlama},
 * {@link RandomWeights}) written by {@link HfModelWriter}, to try quantize/inspect on.
 */
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
    @Option(names = "--shards", defaultValue = "1", description = "split the weights into about this many safetensors files (default: ${DEFAULT-VALUE})")
    int shards;
    @Option(names = "--seed", defaultValue = "42") long seed;

    @Override
    public Integer call() throws Exception {
        if (Files.isDirectory(dir)) {
            try (Stream<Path> s = Files.list(dir)) {
                if (s.findAny().isPresent()) throw new SafetensorsException(dir, null, "directory is not empty");
            }
        }
        if (shards < 1) throw new IllegalArgumentException("--shards must be >= 1, got " + shards);
        CpuThreads.use(Runtime.getRuntime().availableProcessors());
        ScalarType dt = ComputeDtype.parse(dtype).on(DeviceSpec.CPU);
        LlamaConfig c = RandomLlama.parse(String.format(Locale.ROOT, "hidden=%d,intermediate=%d,layers=%d,heads=%d,kv-heads=%d,vocab=%d,tied=%b",
                hidden, intermediate, layers, heads, kvHeads, vocab, tied));
        long bytes = 0;
        for (long[] shape : ModelLoader.expectedTensors(c).values()) {
            long n = 1;
            for (long d : shape) n *= d;
            bytes += n * DType.of(dt).size();
        }
        try (RandomWeights w = new RandomWeights(c, seed)) {
            HfModelWriter.write(c, w, dir, dt, shards == 1 ? 0 : (bytes + shards - 1) / shards);
        }
        HfJson.write(dir.resolve("generation_config.json"), JsonNodeFactory.instance.objectNode()
                .put("bos_token_id", c.bosTokenId()).put("eos_token_id", c.eosTokenIds().get(0)).put("_from_model_config", true));
        long files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).count();
        }
        spec.commandLine().getOut().printf(Locale.ROOT, "wrote %s: %d layers, hidden %d, %s weights in %d file(s)%n", dir, layers, hidden,
                Human.bytes(bytes), files);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
