package org.qoft4j.nativekernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Assumptions;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.kernel.Kernels;

/** The CUDA kernels against the CPU reference (bit for bit) and the fused GEMV against dequantize + matmul. */
@Tag("gpu")
class CudaKernelsTest {
    private static final Device CUDA = new Device("cuda:0");
    private static final ScalarType[] DTYPES = {ScalarType.Float, ScalarType.BFloat16, ScalarType.Half};

    @BeforeAll
    static void needsCuda() {
        Assumptions.assumeTrue(torch.cuda_is_available(), "no CUDA device");
        assertNull(CudaKernels.unavailableReason(), "CUDA kernels must load on a CUDA machine");
    }

    @Test
    void bnbAndInt4AgreeWithTheCpuReference() {
        Random rnd = new Random(21);
        for (QuantType t : new QuantType[] {QuantType.NF4, QuantType.FP4})
            for (int bs = 32; bs <= 4096; bs *= 2)
                for (boolean dq : new boolean[] {false, true})
                    try (PointerScope s = new PointerScope(); QuantizedWeight w = RandomWeights.bnb(rnd, t, 13, 517, bs, dq)) {
                        assertAgree(w, t + " bs=" + bs + " dq=" + dq);
                    }
        for (int g : new int[] {8, 16, 32, 128})
            try (PointerScope s = new PointerScope(); QuantizedWeight w = RandomWeights.int4(rnd, 72, 256, g)) {
                assertAgree(w, "int4 g=" + g);
            }
    }

    @Test
    void kernelsRouteCudaWeightsToTheCudaKernel() {
        Random rnd = new Random(22);
        try (PointerScope s = new PointerScope(); Bnb4bitWeight cpu = RandomWeights.bnb(rnd, QuantType.NF4, 64, 64, 64, false);
             QuantizedWeight w = cpu.to(CUDA)) {
            Tensor out = torch.empty(new long[] {64, 64}, new TensorOptions(ScalarType.BFloat16).device(new DeviceOptional(CUDA)), null);
            assertTrue(Kernels.dequantizer().supports(w, out));
            Kernels.dequantizeInto(w, out);
            assertArrayEquals(RandomWeights.bits(Kernels.dequantize(cpu, ScalarType.BFloat16)), RandomWeights.bits(out));
            Tensor cpuOut = torch.empty(new long[] {64, 64}, new TensorOptions(ScalarType.BFloat16), null);
            assertThrows(IllegalArgumentException.class, () -> CudaKernels.dequantize(w, cpuOut));
        }
    }

    @Test
    void gemvMatchesDequantizeAndMatmul() {
        Random rnd = new Random(23);
        for (boolean dq : new boolean[] {false, true})
            for (ScalarType dt : new ScalarType[] {ScalarType.BFloat16, ScalarType.Half})
                try (PointerScope s = new PointerScope(); Bnb4bitWeight cpu = RandomWeights.bnb(rnd, QuantType.NF4, 300, 1024, 64, dq);
                     Bnb4bitWeight w = cpu.to(CUDA)) {
                    Tensor x = torch.randn(new long[] {1024}, new TensorOptions(ScalarType.Float).device(new DeviceOptional(CUDA))).to(dt);
                    Tensor y = FusedGemv.gemv(w, x);
                    Tensor ref = torch.matmul(Kernels.dequantize(w, ScalarType.Float), x.to(ScalarType.Float));
                    double err = y.to(ScalarType.Float).sub(ref).abs().max().item_double();
                    double scale = ref.abs().max().item_double();
                    // y is rounded once to bf16/fp16 (relative 2^-8 / 2^-11); the fp32 sums differ in order only
                    assertTrue(err <= 8e-3 * scale, dt + " dq=" + dq + ": max |err| " + err + " vs max |y| " + scale);
                    assertEquals(1, FusedGemv.gemv(w, x.reshape(1, 1024)).size(0));
                }
    }

    private static void assertAgree(QuantizedWeight cpu, String label) {
        try (QuantizedWeight w = cpu.to(CUDA)) {
            for (ScalarType dt : DTYPES) {
                Tensor ref = torch.empty(new long[] {w.rows(), w.cols()}, new TensorOptions(dt), null);
                Kernels.reference().dequantize(cpu, ref);
                Tensor out = torch.empty(new long[] {w.rows(), w.cols()}, new TensorOptions(dt).device(new DeviceOptional(CUDA)), null);
                CudaKernels.dequantize(w, out);
                assertArrayEquals(RandomWeights.bits(ref), RandomWeights.bits(out), label + " " + dt);
            }
        }
    }
}
