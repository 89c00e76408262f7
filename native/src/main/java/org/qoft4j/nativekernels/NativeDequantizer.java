package org.qoft4j.nativekernels;

import org.bytedeco.pytorch.Tensor;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.kernel.Dequantizer;

/**
 * The native dequantization kernels: C++ (AVX-512 / AVX2 / scalar, multi-threaded) for CPU tensors, CUDA
 * for CUDA tensors when {@code libqoft4j_cuda.so} loads. Bit-exact with the reference
 * ({@code ReferenceDequantizer}) on every path; NaN outputs follow libtorch's vectorized conversions
 * (bf16 NaN is written as 0xFFFF, fp16 NaN keeps its payload as F16C does).
 */
public final class NativeDequantizer implements Dequantizer {
    @Override
    public String name() {
        return "native-" + NativeLibrary.isa();
    }

    @Override
    public boolean supports(QuantizedWeight w, Tensor out) {
        if (WeightChecks.problem(w, out) != null) return false;
        if (out.is_cpu()) return NativeLibrary.isLoaded();
        return out.is_cuda() && WeightChecks.address(out) % 16 == 0 && CudaKernels.isAvailable();
    }

    @Override
    public void dequantize(QuantizedWeight w, Tensor out) {
        String problem = WeightChecks.problem(w, out);
        if (problem != null) throw new IllegalArgumentException(problem);
        if (out.is_cuda()) {
            CudaKernels.dequantize(w, out);
            return;
        }
        if (!out.is_cpu()) throw new IllegalArgumentException("native kernels run on CPU or CUDA tensors, got " + out.device().str().getString());
        NativeLibrary.require();
        if (w.numel() == 0) return;
        KernelArgs args = KernelArgs.of(w);
        NativeLibrary.check(args.dequantizeCpu(WeightChecks.address(out), WeightChecks.dtypeCode(Tensors.dtype(out))),
                args.format() + " dequantization");
    }
}
