package org.qoft4j.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.qoft4j.model.Llama2cLoader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code qoft4j convert-llama2c}: a llama2.c checkpoint as a Hugging Face model directory. */
@Command(name = "convert-llama2c", mixinStandardHelpOptions = true,
        description = "Converts a llama2.c .bin checkpoint into a Hugging Face directory (config.json + model.safetensors, float32), "
                + "permuting q/k rows from llama2.c's interleaved RoPE to Hugging Face's rotate-half layout. Written atomically.")
public final class ConvertLlama2cCommand implements Callable<Integer> {
    @Option(names = "--in", required = true, paramLabel = "FILE", description = "llama2.c checkpoint")
    Path in;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "new directory (must not exist or be empty)")
    Path out;

    @Override
    public Integer call() {
        Llama2cLoader.open(in).convertToHf(out);
        System.out.println(out);
        return 0;
    }
}
