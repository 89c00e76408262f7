package org.qoft4j.cli.bench;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.linear.Quantizer;
import org.qoft4j.quant.kernel.Kernels;

/**
 * A 4-bit weight and preallocated outputs for timing dequantization against a memory copy of the same output
 * size, on the CPU or a GPU, for {@code ./qoft4j bench} (the JMH {@code DequantBench} / {@code NativeDequantBench}
 * measure the same on the CPU with JMH's harness).
 */
public final class DequantFixture implements AutoCloseable {
    private final QuantizedWeight weight;
    private final Tensor outF32, outBf16, copySource;

    /** A {@code rows x cols} standard-normal weight (bf16, as checkpoints store it) quantized with {@code spec}, on {@code device}. */
    public DequantFixture(long rows, long cols, QuantSpec spec, Device device) {
        try (PointerScope scope = new PointerScope()) {
            Generator g = torch.make_generator_cpu(1);
            TensorOptions f32 = new TensorOptions(ScalarType.Float);
            // quantized on the CPU (the path every model load takes), then moved
            Tensor w = torch.randn(new long[] {rows, cols}, new GeneratorOptional(g), f32).to(ScalarType.BFloat16);
            QuantizedWeight cpu = Quantizer.quantize(w, spec);
            if (device.is_cpu()) {
                weight = cpu;
            } else {
                weight = cpu.to(device);
                cpu.close();
            }
            TensorOptions on = new TensorOptions(ScalarType.Float).device(new DeviceOptional(device));
            outF32 = torch.empty(new long[] {rows, cols}, on, null).retainReference();
            outBf16 = torch.empty(new long[] {rows, cols}, new TensorOptions(ScalarType.BFloat16).device(new DeviceOptional(device)), null)
                    .retainReference();
            copySource = torch.randn(new long[] {rows, cols}, new GeneratorOptional(g), f32).to(device, ScalarType.Float).retainReference();
        }
    }

    public QuantizedWeight weight() {
        return weight;
    }

    /** The preallocated output in {@code dtype} (Float or BFloat16). */
    public Tensor out(ScalarType dtype) {
        return dtype.intern() == ScalarType.BFloat16 ? outBf16 : outF32;
    }

    /** Dequantizes with the libtorch-ops reference kernel. */
    public void reference(ScalarType dtype) {
        Kernels.reference().dequantize(weight, out(dtype));
    }

    /** Dequantizes with the kernel training uses ({@link Kernels#dequantizeInto}: native / CUDA when loaded). */
    public void best(ScalarType dtype) {
        Kernels.dequantizeInto(weight, out(dtype));
    }

    /** Baseline: copies a tensor of the fp32 output's size into it (reads and writes 4 bytes per element). */
    public void copyFp32() {
        outF32.copy_(copySource);
    }

    public long elements() {
        return weight.rows() * weight.cols();
    }

    @Override
    public void close() {
        weight.close();
        outF32.releaseReference();
        outBf16.releaseReference();
        copySource.releaseReference();
    }
}
