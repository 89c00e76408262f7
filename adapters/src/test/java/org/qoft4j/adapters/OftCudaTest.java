package org.qoft4j.adapters;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.linear.LinearLayer;
import org.qoft4j.quant.linear.QuantizedLinear;

import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.*;

/** Adapters on CUDA agree with the CPU (run with {@code mvn -Pgpu -pl adapters -am test -Dtest=OftCudaTest -Dtest.excludedGroups=}). */
@Tag("gpu")
class OftCudaTest {
    private static void compare(BiFunction<LinearLayer, Device, AdapterLayer> make, ScalarType dtype, double tol) {
        try (PointerScope s = new PointerScope()) {
            assertTrue(torch.cuda_is_available(), "a CUDA device is required");
            Device cuda = new Device("cuda:0");
            QuantizedLinear cpuBase = QuantizedLinear.quantize(Fixtures.randn(1, 256, 512), Fixtures.randn(2, 256), QuantSpec.nf4().withDoubleQuant(true));
            QuantizedLinear gpuBase = new QuantizedLinear(cpuBase.weight().to(cuda), cpuBase.bias().to(cuda, ScalarType.Float));
            AdapterLayer cpu = make.apply(cpuBase, null), gpu = make.apply(gpuBase, cuda);
            Fixtures.randomize(cpu, 0.05, 3);
            gpu.loadStateDict(cpu.stateDict());
            assertTrue(gpu.parameters().get(0).device().is_cuda());
            Tensor x = Fixtures.randn(4, 8, 16, 512).to(dtype);
            Tensor g = Fixtures.randn(5, 8, 16, 256).to(dtype);
            Tensor yc = cpu.forward(x), yg = gpu.forward(x.to(cuda, dtype));
            // relative to the output's scale: one bf16 ulp at |y| ~ 30 is 0.125
            double dy = Fixtures.maxAbsDiff(yc, yg.to(new Device("cpu"), ScalarType.Float)), ys = yc.abs().max().item_double();
            assertTrue(dy < tol * (1 + ys / 16), () -> dtype + " forward: max |cpu - cuda| = " + dy + " (max |y| " + ys + "), tolerance " + tol);
            torch.backward(new TensorVector(yc), new TensorVector(g), new BoolOptional(false), false, new TensorVector());
            torch.backward(new TensorVector(yg), new TensorVector(g.to(cuda, dtype)), new BoolOptional(false), false, new TensorVector());
            for (int i = 0; i < cpu.parameters().size(); i++) {
                Tensor gc = cpu.parameters().get(i).grad(), gg = gpu.parameters().get(i).grad();
                double dg = Fixtures.maxAbsDiff(gc, gg.to(new Device("cpu"), ScalarType.Float)), scale = gc.abs().max().item_double();
                int k = i;
                assertTrue(dg < tol * (1 + scale), () -> dtype + " grad of parameter " + k + ": max |cpu - cuda| = " + dg + " (max |grad| " + scale + ")");
            }
            cpu.close();
            gpu.close();
            gpuBase.close();
            cpuBase.close();
        }
    }

    @Test
    void oftV2OnCudaMatchesCpu() {
        compare((b, d) -> new OftLayer(b, OftConfig.defaults(), null, 0, d), ScalarType.Float, 1e-3);
        compare((b, d) -> new OftLayer(b, OftConfig.defaults(), null, 0, d), ScalarType.BFloat16, 0.1);
    }

    @Test
    void oftV1AndLoraOnCudaMatchCpu() {
        compare((b, d) -> new OftV1Layer(b, OftConfig.defaults(), null, 0, d), ScalarType.Float, 1e-3);
        compare((b, d) -> new LoraLayer(b, new LoraConfig(8, 16, 0, false, TargetModules.LLAMA_ALL_LINEAR), 0, d), ScalarType.Float, 1e-3);
    }
}
