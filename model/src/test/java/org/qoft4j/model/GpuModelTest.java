package org.qoft4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.core.Tensors;

/** CUDA: the same model on the GPU (fp32 exact-ish, bf16 close), quantize-on-load there, packed masks and KV-cache generation. */
@Tag("gpu")
class GpuModelTest {
    static final Device CUDA = new Device("cuda");

    @BeforeEach
    void needsCuda() {
        Assumptions.assumeTrue(torch.cuda_is_available(), "needs a CUDA device (mvn -Pgpu)");
    }

    @Test
    void cudaMatchesCpu() {
        LlamaConfig c = TinyModels.parse(TinyModels.config("qwen2"));
        Map<String, Tensor> w = TinyModels.randomWeights(c, 23);
        long[] ids = {1, 5, 9, 14, 2, 33, 7, 7, 40, 3};
        try (PointerScope scope = new PointerScope(); LlamaModel cpu = ModelLoader.build(c, TensorSource.of("memory", w), LoadOptions.cpu());
             LlamaModel gpu32 = ModelLoader.build(c, TensorSource.of("memory", w), LoadOptions.cpu().withDevice(CUDA));
             LlamaModel gpu16 = ModelLoader.build(c, TensorSource.of("memory", w), new LoadOptions(CUDA, ScalarType.BFloat16, null));
             LlamaModel gpuNf4 = ModelLoader.build(c, TensorSource.of("memory", w), new LoadOptions(CUDA, ScalarType.BFloat16, QuantSpec.nf4()));
             LlamaModel cpuNf4 = ModelLoader.build(c, TensorSource.of("memory", w), LoadOptions.cpu().withQuant(QuantSpec.nf4()))) {
            float[] ref = Tensors.toFloats(cpu.forward(Tensors.ofLongs(ids, 1, ids.length)));
            Tensor l32 = gpu32.forward(Tensors.ofLongs(ids, 1, ids.length));
            assertTrue(l32.device().is_cuda());
            assertClose(ref, Tensors.toFloats(l32), 1e-3, "fp32 on CUDA (TF32 may be on)");
            assertClose(ref, Tensors.toFloats(gpu16.forward(Tensors.ofLongs(ids, 1, ids.length))), 0.1, "bf16 on CUDA");
            assertClose(Tensors.toFloats(cpuNf4.forward(Tensors.ofLongs(ids, 1, ids.length))),
                    Tensors.toFloats(gpuNf4.forward(Tensors.ofLongs(ids, 1, ids.length))), 0.1, "nf4 bf16 on CUDA vs nf4 fp32 on CPU");
            // packed batch on the GPU: sample B's logits equal B alone
            long[] packed = {1, 5, 9, 14, 2, 33, 7};
            long[] pos = {0, 1, 2, 3, 0, 1, 2}, seq = {0, 0, 0, 0, 1, 1, 1};
            float[] p = Tensors.toFloats(gpu32.forward(Tensors.ofLongs(packed, 1, 7), gpu32.packedContext(Tensors.ofLongs(pos, 1, 7), Tensors.ofLongs(seq, 1, 7))));
            float[] alone = Tensors.toFloats(gpu32.forward(Tensors.ofLongs(new long[] {2, 33, 7}, 1, 3)));
            float[] tail = java.util.Arrays.copyOfRange(p, 4 * c.vocabSize(), 7 * c.vocabSize());
            assertClose(alone, tail, 1e-3, "packed sample B on CUDA");
            long[] g1 = Generator.generate(gpu16, new long[] {1, 5}, GenerationConfig.greedy(16, Set.of())).tokens();
            assertArrayEquals(g1, Generator.generate(gpu16, new long[] {1, 5}, GenerationConfig.greedy(16, Set.of())).tokens());
            assertEquals(16, g1.length);
        } finally {
            TinyModels.release(w);
        }
    }

    static void assertClose(float[] want, float[] got, double tol, String what) {
        double worst = 0;
        for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]));
        assertTrue(worst < tol, what + ": max diff " + worst);
    }
}
