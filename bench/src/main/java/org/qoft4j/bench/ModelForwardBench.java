package org.qoft4j.bench;

import org.qoft4j.core.CpuThreads;
import org.qoft4j.core.DeviceSpec;
import org.qoft4j.core.ComputeDtype;
import org.qoft4j.quant.BaseQuant;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.linear.QuantizedLinear;
import org.qoft4j.core.memory.ResidentMemory;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelFamily;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.model.RandomWeights;

/**
 * One no-grad forward pass (logits for every position) of a random-weight Llama: hidden 1024, 8 layers, 16 heads,
 * MLP 2816, vocabulary 32000, untied head; one row of {@value #TOKENS} tokens. Linear layers in full precision
 * ({@code none}) or NF4 (dequantized on the fly); compute in fp32 or bf16. Tokens/s = {@value #TOKENS} / (s/op).
 * Each fork prints the model's weight bytes, resident memory after loading and the peak during the measured
 * forwards. Run: {@code bench/jmh ModelForwardBench -f 1 -wi 2 -i 3}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 3, time = 5)
@Fork(1)
public class ModelForwardBench {
    static final int TOKENS = 256;

    @Param({"none", "nf4"})
    public String quant;

    @Param({"fp32", "bf16"})
    public String dtype;

    private PointerScope scope;
    private LlamaModel model;
    private Tensor ids;
    private long loadedRss;

    @Setup(Level.Trial)
    public void setUp() {
        CpuThreads.use(Runtime.getRuntime().availableProcessors());
        scope = new PointerScope();
        LlamaConfig c = new LlamaConfig(ModelFamily.LLAMA, java.util.List.of(), 1024, 2816, 8, 16, 16, 64, 32000, 1e-5, 10000, null, 4096,
                false, false, false, false, false, 0, 1L, java.util.List.of(2L), null);
        LoadOptions o = LoadOptions.cpu().withDtype(ComputeDtype.parse(dtype).on(DeviceSpec.CPU)).withQuant(BaseQuant.parse(quant).spec());
        model = ModelLoader.build(c, new RandomWeights(c, 1), o);
        long[] t = new long[TOKENS];
        for (int i = 0; i < TOKENS; i++) t[i] = (i * 7919L) % 32000;
        ids = Tensors.ofLongs(t, 1, TOKENS);
        System.gc();
        loadedRss = ResidentMemory.currentBytes();
        if (ResidentMemory.peakResettable()) ResidentMemory.resetPeak();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        System.out.printf(Locale.ROOT, "%n[%s/%s] weights %.1f MiB, RSS after load %.1f MiB, peak RSS while running forwards %.1f MiB%n",
                quant, dtype, model.weightBytes() / 1048576.0, loadedRss / 1048576.0, ResidentMemory.peakBytes() / 1048576.0);
        model.close();
        QuantizedLinear.releaseWorkspace();
        scope.close();
    }

    @Benchmark
    public float forward() {
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            Tensor logits = model.forward(ids);
            return logits.select(1, TOKENS - 1).select(1, 0).item_float(); // forces the result
        }
    }
}
