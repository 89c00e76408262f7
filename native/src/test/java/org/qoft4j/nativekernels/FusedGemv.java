package org.qoft4j.nativekernels;

import java.util.Arrays;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.kernel.Kernels;

/**
 * The Java side of the fused NF4/FP4 GEMV CUDA kernel ({@code qoft4j_cu_gemv_bnb} in {@code qoft4j_cuda.cu}): an
 * experiment on no product path, kept in this module's test jar beside the two programs that exercise it,
 * {@link GpuCheck} (agreement and speed on a GPU machine, through the GPU bundle, which ships test jars) and
 * {@code CudaKernelsTest}. It beat dequantize + matvec 2.7x on an H200 (docs/BENCHMARKS.md, "GPU: NVIDIA H200"); wiring it
 * into batch-1 generation needs a matrix-vector entry in quant's kernel SPI (docs/DESIGN.md, "Kernels").
 */
final class FusedGemv {
    private FusedGemv() {}

    /**
     * Batch-1 generation: {@code W x} for an NF4/FP4 weight {@code [rows, cols]} and a bf16 or fp16 vector
     * {@code x [cols]} (or {@code [1, cols]}), fused (no dequantized weight is materialized); fp32 accumulation.
     * Returns {@code [rows]} (or {@code [1, rows]}) in x's dtype. Falls back to dequantize + matmul when
     * {@code cols} is not a multiple of 32 or the tensors are not 16-byte aligned. Queued on the default stream.
     */
    static Tensor gemv(Bnb4bitWeight w, Tensor x) {
        long cols = w.cols();
        if (x == null || !x.defined()) throw new IllegalArgumentException("gemv: x is missing");
        ScalarType dt = Tensors.dtype(x);
        if (dt != ScalarType.BFloat16 && dt != ScalarType.Half)
            throw new IllegalArgumentException("gemv: x must be bfloat16 or float16, got " + dt);
        boolean batched = x.dim() == 2;
        if (!(x.dim() == 1 || batched && x.size(0) == 1) || x.size(-1) != cols)
            throw new IllegalArgumentException("gemv: x must be [" + cols + "] or [1, " + cols + "], got " + Arrays.toString(Tensors.shape(x)));
        if (!x.device().equals(w.device()) || !x.is_cuda())
            throw new IllegalArgumentException("gemv: x and the weight must be on the same CUDA device");
        Tensor out = torch.empty(batched ? new long[] {1, w.rows()} : new long[] {w.rows()},
                new TensorOptions(dt).device(new DeviceOptional(x.device())), null);
        Tensor xc = x.contiguous();
        String p = WeightChecks.bnbProblem(w, x.device());
        if (p != null) throw new IllegalArgumentException("gemv: " + p);
        CudaKernels.require();
        boolean fused = cols % 32 == 0 && WeightChecks.address(w.packed()) % 16 == 0 && WeightChecks.address(xc) % 16 == 0;
        if (!fused || w.rows() == 0) {
            Tensor y = torch.matmul(Kernels.dequantize(w, dt), xc.reshape(cols));
            return batched ? y.reshape(1, w.rows()) : y;
        }
        KernelArgs.Bnb a = KernelArgs.Bnb.of(w);
        NativeLibrary.check(NativeApi.qoft4j_cu_gemv_bnb(Math.max(0, x.device().index()), a.packed(), a.absmax(),
                a.absmaxIsCodes(), a.quantMap(), a.nestedAbsmax(), a.nestedMap(), a.offset(), a.nestedBlocksize(), a.rows(),
                a.cols(), a.blocksize(), WeightChecks.address(xc), WeightChecks.address(out), WeightChecks.dtypeCode(dt), 0L),
                "CUDA NF4/FP4 GEMV");
        return out;
    }
}
