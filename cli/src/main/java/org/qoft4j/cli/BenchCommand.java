package org.qoft4j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.qoft4j.core.AtomicFiles;
import org.qoft4j.cli.bench.BenchSuite;
import org.qoft4j.cli.bench.TrainProbe;
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
    @Option(names = {"--random-model", "--random"}, paramLabel = "SPEC", description = "random-weight model of the QOFT / QLoRA / full-precision cases (1b, bench, d1024 or key=value list)")
    String randomModel;
    @Option(names = "--model", paramLabel = "DIR", description = "a Hugging Face model directory instead, for every case (trained on random tokens)")
    Path modelDir;
    @Option(names = "--v1-model", paramLabel = "SPEC|DIR", description = "model of the OFT v1 vs v2 case") String v1Model;
    @Option(names = "--seq-len", description = "tokens per row") Integer seqLen;
    @Option(names = "--batch-size", description = "rows per step (default 1)") Integer batchSize;
    @Option(names = "--steps", description = "steps per configuration (the first untimed)") Integer steps;
    @Option(names = "--untimed-steps") Integer untimed;
    @Option(names = "--threads", description = "CPU threads (default: all cores)") Integer threads;
    @Option(names = "--cases", split = ",", paramLabel = "C[,C...]",
            description = "oft-v1-vs-v2, qoft-vs-qlora, 4bit-vs-full, dequant (the default: these four), data-parallel, recompute, bf16, contention")
    List<String> cases;
    @Option(names = "--dp-model", paramLabel = "SPEC|DIR", description = "model of the data-parallel case (default: d1024 = hidden 1024, 8 layers)")
    String dpModel;
    @Option(names = "--repeats", description = "times the data-parallel and recompute cases run their three configurations, interleaved (default: 2)") Integer repeats;
    @Option(names = "--dequant-size", description = "n of the n x n dequantized matrix (default: 2048 CPU, 8192 CUDA)") Integer dequantSize;
    @Option(names = "--out", paramLabel = "FILE", description = "also write the JSON here") Path out;
    @Option(names = "--work", paramLabel = "DIR", description = "directory for the runs (default: a temporary one, deleted after)") Path work;

    @Override
    public Integer call() throws Exception {
        if (randomModel != null && modelDir != null) throw new CommandLine.ParameterException(spec.commandLine(), "give --model or --random-model, not both");
        if (modelDir != null && !Files.isDirectory(modelDir))
            throw new CommandLine.ParameterException(spec.commandLine(), "--model " + modelDir + ": not a directory");
        String model = modelDir != null ? modelDir.toAbsolutePath().toString() : randomModel;
        Path dir = work != null ? work : Files.createTempDirectory("qoft4j-bench");
        BenchSuite.Options d = BenchSuite.Options.defaults(device, dir);
        // a named model serves the v1 case too on a GPU or when it is a directory; on a CPU a random model's v1 case keeps its smaller default
        String v1 = v1Model != null ? v1Model : model != null && (d.cuda() || modelDir != null) ? model : d.v1Model();
        BenchSuite.Options o = new BenchSuite.Options(device, dtype != null ? dtype : d.dtype(), model != null ? model : d.model(), v1,
                seqLen != null ? seqLen : d.seqLen(), batchSize != null ? batchSize : d.batchSize(), steps != null ? steps : d.steps(),
                untimed != null ? untimed : d.untimedSteps(), threads != null ? threads : d.threads(), cases != null ? cases : d.cases(),
                dequantSize != null ? dequantSize : d.dequantSize(), dir, dpModel != null ? dpModel : d.dataParallelModel(),
                repeats != null ? repeats : d.repeats());
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
