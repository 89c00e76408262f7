package org.qoft4j.trainer.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.qoft4j.quant.safetensors.AtomicFiles;
import org.qoft4j.trainer.bench.BenchSuite;
import org.qoft4j.trainer.bench.TrainProbe;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code qoft4j bench}: OFT v1 vs v2, QOFT vs QLoRA, 4-bit vs full precision, dequantization vs a copy; JSON on stdout. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measure the headline ratios side by side in one run and print them as JSON (progress on stderr):",
                "OFT v1 vs OFTv2 training step time and peak memory, QOFT vs QLoRA, QOFT vs full-precision OFTv2,",
                "NF4 dequantization vs a memory copy. Each training configuration runs in its own JVM on a random-weight Llama.",
                "CPU defaults: --random-model bench (2048-wide, 8 layers), v1 vs v2 on bench,layers=2, 512 tokens, 3 steps, fp32.",
                "CUDA defaults (--device cuda): --random-model 1b for every case, 1024 tokens, 4 steps, bf16."})
public final class BenchCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--device", paramLabel = "cpu|cuda", defaultValue = "cpu") String device;
    @Option(names = "--dtype", paramLabel = "fp32|bf16", description = "compute dtype (default: fp32 on CPU, bf16 on CUDA)") String dtype;
    @Option(names = {"--random-model", "--random"}, paramLabel = "SPEC", description = "model of the QOFT / QLoRA / full-precision cases (1b, bench, d1024 or key=value list)")
    String model;
    @Option(names = "--v1-model", paramLabel = "SPEC", description = "model of the OFT v1 vs v2 case") String v1Model;
    @Option(names = "--seq-len", description = "tokens per step") Integer seqLen;
    @Option(names = "--steps", description = "steps per configuration (the first untimed)") Integer steps;
    @Option(names = "--untimed-steps") Integer untimed;
    @Option(names = "--threads", description = "CPU threads (default: all cores)") Integer threads;
    @Option(names = "--cases", split = ",", paramLabel = "C[,C...]", description = "oft-v1-vs-v2, qoft-vs-qlora, 4bit-vs-full, dequant (default: all)")
    List<String> cases;
    @Option(names = "--dequant-size", description = "n of the n x n dequantized matrix (default: 2048 CPU, 8192 CUDA)") Integer dequantSize;
    @Option(names = "--out", paramLabel = "FILE", description = "also write the JSON here") Path out;
    @Option(names = "--work", paramLabel = "DIR", description = "directory for the runs (default: a temporary one, deleted after)") Path work;

    @Override
    public Integer call() throws Exception {
        Path dir = work != null ? work : Files.createTempDirectory("qoft4j-bench");
        BenchSuite.Options d = BenchSuite.Options.defaults(device, dir);
        BenchSuite.Options o = new BenchSuite.Options(device, dtype != null ? dtype : d.dtype(), model != null ? model : d.model(),
                v1Model != null ? v1Model : model != null && d.cuda() ? model : d.v1Model(), seqLen != null ? seqLen : d.seqLen(),
                steps != null ? steps : d.steps(), untimed != null ? untimed : d.untimedSteps(), threads != null ? threads : d.threads(),
                cases != null ? cases : d.cases(), dequantSize != null ? dequantSize : d.dequantSize(), dir);
        ObjectNode result;
        try {
            result = BenchSuite.run(o, line -> {
                spec.commandLine().getErr().println(line);
                spec.commandLine().getErr().flush();
            });
        } finally {
            if (work == null) AtomicFiles.deleteQuietly(dir);
        }
        String json = TrainProbe.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(result);
        if (out != null) AtomicFiles.write(out, json.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        spec.commandLine().getOut().println(json);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
