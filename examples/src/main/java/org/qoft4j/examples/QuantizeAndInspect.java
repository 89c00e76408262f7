package org.qoft4j.examples;

import org.qoft4j.core.CpuThreads;
import org.qoft4j.quant.kernel.Kernels;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.linear.Quantizer;
import org.qoft4j.core.safetensors.SafetensorsFile;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.data.TestData;

/**
 * Quantize and inspect: what 4 bits per weight keep of a real weight matrix, and what they save on a whole model.
 *
 * <p>One weight of the test-data model is read from its safetensors file and quantized with each 4-bit format:
 * NF4 and FP4 in the bitsandbytes layout (blocks of 64 weights with one absmax each; double quantization packs the
 * absmax values into 8 bits too, as QLoRA does) and INT4 in the GPTQ layout (groups of 128 with a scale and zero
 * point). For each: the exact storage, bits per weight and the reconstruction error after dequantization. Then the
 * whole model is loaded twice, full precision and NF4, to compare the memory its weights take.
 *
 * <p>Run: {@code examples/run QuantizeAndInspect [MODEL_DIR] [TENSOR]} (defaults: test-data/tiny-llama and its first
 * MLP gate projection). {@code ./qoft4j quantize} writes a quantized model directory; {@code ./qoft4j inspect}
 * describes one.
 */
public final class QuantizeAndInspect {
    public static void main(String[] args) {
        Path modelDir = args.length > 0 ? Path.of(args[0]) : TestData.model();
        String name = args.length > 1 ? args[1] : "model.layers.0.mlp.gate_proj.weight";
        CpuThreads.use(Runtime.getRuntime().availableProcessors());

        try (PointerScope scope = new PointerScope(); SafetensorsFile file = SafetensorsFile.open(modelDir.resolve("model.safetensors"))) {
            // The original weight, in fp32 for the error measurements.
            Tensor w = file.load(name, ScalarType.Float);
            System.out.printf("%s: %s %s, %,d bytes as stored%n", name, file.info(name).dtype(), java.util.Arrays.toString(file.info(name).shape()),
                    file.info(name).byteLength());
            double rms = w.pow(new org.bytedeco.pytorch.Scalar(2)).mean().sqrt().item_double();

            for (QuantSpec spec : List.of(QuantSpec.nf4(), QuantSpec.nf4().withDoubleQuant(true), QuantSpec.of(QuantType.FP4),
                    QuantSpec.of(QuantType.INT4))) {
                try (QuantizedWeight q = Quantizer.quantize(w, spec)) {
                    Tensor back = Kernels.dequantize(q, ScalarType.Float);
                    Tensor err = back.sub(w);
                    double rmse = err.pow(new org.bytedeco.pytorch.Scalar(2)).mean().sqrt().item_double();
                    System.out.printf("  %-34s %,8d bytes = %.2f bits/weight, max |error| %.4f, RMS error / RMS weight %.3f%n", describe(spec),
                            q.storageBytes(), 8.0 * q.storageBytes() / q.numel(), err.abs().max().item_double(), rmse / rms);
                }
            }
        }

        // The whole model: every linear layer of the decoder quantized on load (embeddings, norms and the head stay as they are).
        long full, nf4;
        try (LlamaModel m = ModelLoader.load(modelDir, LoadOptions.cpu())) {
            full = m.weightBytes();
        }
        try (LlamaModel m = ModelLoader.load(modelDir, LoadOptions.cpu().withQuant(QuantSpec.nf4()))) {
            nf4 = m.weightBytes();
        }
        System.out.printf("whole model weights: fp32 %,d bytes, NF4 %,d bytes (%.2fx smaller)%n", full, nf4, (double) full / nf4);
    }

    private static String describe(QuantSpec s) {
        return s.type() == QuantType.INT4 ? "INT4 (GPTQ, group " + s.groupSize() + ")"
                : s.type() + " (bnb, block " + s.blocksize() + (s.doubleQuant() ? ", double quant)" : ")");
    }
}
