package org.qoft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.qoft4j.data.TestData;
import org.qoft4j.trainer.Finetune;
import org.qoft4j.trainer.StepMetrics;
import org.qoft4j.trainer.TinyLlama;
import org.qoft4j.trainer.TrainConfig;

/**
 * Golden losses, torchtune style: 10 steps of QOFT and of QLoRA on the committed test-data model with fixed seeds
 * and one libtorch thread (the reduction order of a matmul depends on the thread count), pinned step by step.
 * "The loss dropped by N nats" tests let a change in numerics through; this one fails on any of them (a changed
 * Neumann series, learning-rate schedule, loss normalization, dropout, quantization rounding or initialization).
 *
 * <p>Tolerance {@value #TOLERANCE} nats, absolute, per step. Measured 2026-12-06 with {@link #main} (the sequences
 * printed to 6 decimals): a rerun, 2 threads instead of 1, and the reference dequantization kernels
 * ({@code -Dqoft4j.kernels=reference}) instead of the native ones all give the same 20 losses to the last printed
 * digit (< 1e-6). Changes the test must catch move them by far more: 4 Neumann terms instead of 5 by 1.9e-4 at step 2
 * and 1.9e-2 at step 5; a learning rate of 4.1e-3 instead of 4e-3 by 1.3e-2 (QOFT) and 2.8e-2 (QLoRA) at step 2;
 * LoRA dropout 0.1 instead of 0.05 by 2.4e-2 at step 2. Other CPUs (AVX2 instead of AVX-512 in libtorch's kernels)
 * may move the last bits, which 1e-4 leaves room for. On failure the test prints the new sequence: update the
 * constants only for an intended change, and say why in the commit.
 */
class GoldenLossTest {
    static final double TOLERANCE = 1e-4;
    static final double[] QOFT = {4.608053, 3.328566, 2.000099, 1.830107, 2.110709, 1.731802, 1.641686, 1.751584, 1.548242, 1.518369};
    static final double[] QLORA = {4.608053, 3.717069, 2.594330, 2.335135, 2.456092, 2.105842, 2.034375, 2.059163, 1.740851, 1.677768};

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}")
    @CsvSource({"oft", "lora"})
    void tenStepsMatchTheGoldenLosses(String adapter) {
        List<Double> got = losses(adapter, tmp.resolve("run"));
        double[] want = adapter.equals("oft") ? QOFT : QLORA;
        String printed = got.stream().map(v -> String.format(Locale.ROOT, "%.6f", v)).collect(Collectors.joining(", ", "{", "}"));
        if (want.length != got.size()) fail(adapter + ": expected " + want.length + " losses; this run's: " + printed);
        for (int i = 0; i < want.length; i++)
            assertEquals(want[i], got.get(i), TOLERANCE, adapter + " step " + (i + 1) + "; this run's losses: " + printed);
    }

    /** The training loss of each of 10 steps (demo settings: NF4 base, 8 x 128 tokens a step, lr 4e-3). */
    static List<Double> losses(String adapter, Path out, String... extra) {
        List<String> o = new ArrayList<>(List.of("adapter=" + adapter, "quant=nf4", "steps=10", "batch-size=8", "seq-len=128", "lr=4e-3",
                "warmup=2", "eval-fraction=0", "seed=7", "threads=1", "progress=false"));
        o.addAll(List.of(extra));
        TrainConfig c = TinyLlama.with(TinyLlama.config(TestData.model(), TestData.shiftTrain(), out), o.toArray(String[]::new));
        List<Double> losses = new ArrayList<>();
        try (Finetune job = Finetune.open(c)) {
            job.trainer().onStep(m -> losses.add(m.loss()));
            job.train();
        }
        return losses;
    }

    /** Prints the sequences under the variations named in the class comment ({@code GoldenLossTest [KEY=VALUE...]}). */
    public static void main(String[] args) throws Exception {
        for (String a : List.of("oft", "lora")) {
            Path out = java.nio.file.Files.createTempDirectory("golden");
            System.out.println(a + " " + losses(a, out, args).stream().map(v -> String.format(Locale.ROOT, "%.6f", v)).toList());
        }
    }
}
