package org.qoft4j.adapters;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.linear.LinearLayer;

import static org.junit.jupiter.api.Assertions.*;

/** Trainable-parameter counts against the figures the spec and the paper quote for real models. */
class ParameterCountTest {
    /** Only the shape of a layer: parameter counts need nothing else. */
    private record Shape(long inFeatures, long outFeatures) implements LinearLayer {
        public Tensor forward(Tensor x) {
            throw new UnsupportedOperationException("shape only");
        }

        public Tensor dequantizedWeight(ScalarType dtype) {
            throw new UnsupportedOperationException("shape only");
        }

        public Tensor bias() {
            return null;
        }

        public long weightBytes() {
            return 0;
        }
    }

    private static long count(AdapterLayer a) {
        try (a) {
            return a.trainableParameterCount();
        }
    }

    @Test
    void llama32_3bQAndVWithBlock96() {
        // spec: Llama-3.2-3B, b = 96 on q_proj and v_proj of 28 layers -> 28 * 2 * 32 * 4560 = 8,171,520
        try (PointerScope s = new PointerScope()) {
            OftConfig cfg = OftConfig.defaults().withBlockSize(96);
            long perLayer = count(new OftLayer(new Shape(3072, 3072), cfg)) + count(new OftLayer(new Shape(3072, 1024), cfg));
            assertEquals(8_171_520L, 28 * perLayer);
        }
    }

    @Test
    void llama2_7bAllLinearOftB32VersusLoraR16() {
        // paper: Llama-2-7B, all linear layers: QOFT b = 32 has 17.65M, LoRA r = 16 has 39.98M trainable parameters
        try (PointerScope s = new PointerScope()) {
            long[][] shapes = {{4096, 4096}, {4096, 4096}, {4096, 4096}, {4096, 4096}, {4096, 11008}, {4096, 11008}, {11008, 4096}};
            long oft = 0, lora = 0;
            for (long[] sh : shapes) {
                oft += count(new OftLayer(new Shape(sh[0], sh[1]), OftConfig.defaults()));
                lora += count(new LoraLayer(new Shape(sh[0], sh[1]), new LoraConfig(16, 16, 0, false, TargetModules.LLAMA_ALL_LINEAR)));
            }
            assertEquals(17.65e6, 32 * oft, 0.005e6);
            assertEquals(39.98e6, 32 * lora, 0.005e6);
        }
    }
}
