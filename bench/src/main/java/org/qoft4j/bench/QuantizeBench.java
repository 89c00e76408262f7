package org.qoft4j.bench;

import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
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
import org.qoft4j.core.CpuThreads;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.linear.Quantizer;

/**
 * Quantizing a bf16 4096x4096 weight (16.8 M parameters; ns per parameter = ms/op / 16.8): the cost of
 * quantize-on-load, which scales linearly to a whole model.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(1)
public class QuantizeBench {
    @Param({"nf4", "nf4-dq", "fp4", "int4"})
    public String format;

    private PointerScope scope;
    private Tensor weight;
    private QuantSpec spec;

    @Setup(Level.Trial)
    public void setUp() {
        CpuThreads.use(Runtime.getRuntime().availableProcessors());
        scope = new PointerScope();
        torch.manual_seed(3);
        weight = torch.randn(4096, 4096).to(ScalarType.BFloat16);
        spec = format.equals("nf4-dq") ? QuantSpec.nf4().withDoubleQuant(true) : QuantSpec.of(QuantType.parse(format));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    @Benchmark
    public long quantize() {
        try (PointerScope s = new PointerScope(); QuantizedWeight w = Quantizer.quantize(weight, spec)) {
            return w.storageBytes();
        }
    }
}
