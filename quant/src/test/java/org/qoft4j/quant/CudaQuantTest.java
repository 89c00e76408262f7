package org.qoft4j.quant;

import org.qoft4j.quant.kernel.Kernels;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.linear.Quantizer;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.qoft4j.quant.linear.QuantizedLinear;

/** Quantization, reference dequantization and the 4-bit linear on CUDA tensors agree with the CPU. */
@Tag("gpu")
class CudaQuantTest extends ScopedTest {
    private final Device cuda = new Device("cuda:0");

    @BeforeEach
    void needsCuda() {
        Assumptions.assumeTrue(torch.cuda_is_available(), "no CUDA device");
    }

    private static QuantSpec spec(QuantType t) {
        return t == QuantType.INT4 ? QuantSpec.of(t) : QuantSpec.of(t).withDoubleQuant(t == QuantType.NF4);
    }

    @ParameterizedTest
    @EnumSource(QuantType.class)
    void cudaMatchesCpuBitForBit(QuantType type) {
        Tensor w = torch.randn(256, 384).to(ScalarType.BFloat16);
        try (QuantizedWeight onCpu = Quantizer.quantize(w, spec(type));
             QuantizedWeight onGpu = Quantizer.quantize(w.to(cuda, ScalarType.BFloat16), spec(type))) {
            assertTrue(onGpu.device().is_cuda());
            assertEquals(onCpu.storageBytes(), onGpu.storageBytes());
            for (ScalarType dt : new ScalarType[] {ScalarType.Float, ScalarType.BFloat16, ScalarType.Half}) {
                Tensor a = Kernels.dequantize(onCpu, dt), b = Kernels.dequantize(onGpu, dt);
                assertTrue(b.is_cuda());
                assertArrayEquals(Tensors.toFloats(a), Tensors.toFloats(b), type + " " + dt);
            }
            try (QuantizedWeight moved = onCpu.to(cuda)) {
                assertArrayEquals(Tensors.toFloats(Kernels.dequantize(onGpu, ScalarType.Float)), Tensors.toFloats(Kernels.dequantize(moved, ScalarType.Float)));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(QuantType.class)
    void linearForwardOnCuda(QuantType type) {
        Tensor w = torch.randn(128, 256).to(cuda, ScalarType.Float), b = torch.randn(128).to(cuda, ScalarType.Float);
        Tensor x = torch.randn(4, 256).to(cuda, ScalarType.Float);
        try (QuantizedLinear layer = QuantizedLinear.quantize(w, b, spec(type))) {
            for (ScalarType dt : new ScalarType[] {ScalarType.Float, ScalarType.BFloat16}) {
                Tensor xd = x.to(dt);
                Tensor expected = torch.matmul(xd, layer.dequantizedWeight(dt).t()).add(b.to(dt));
                assertArrayEquals(Tensors.toFloats(expected), Tensors.toFloats(layer.forward(xd)), type + " " + dt);
                try (NoGradGuard g = new NoGradGuard()) {
                    assertArrayEquals(Tensors.toFloats(expected), Tensors.toFloats(layer.forward(xd)), type + " " + dt + " no grad");
                }
            }
        } finally {
            QuantizedLinear.releaseWorkspace();
        }
    }
}
