package org.qoft4j.nativekernels;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.Int4Weight;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.kernel.Kernels;

/**
 * Everything the native kernels assume about a weight and its output, checked in Java before any
 * native call: dtypes, element counts, contiguity, devices, block and group sizes. A kernel that
 * trusted a wrong size would read or write out of bounds, so {@link #problem} is exhaustive.
 */
final class WeightChecks {
    private WeightChecks() {}

    /** Output dtype code of the C API (0 fp32, 1 bf16, 2 fp16). */
    static int dtypeCode(ScalarType dtype) {
        ScalarType t = dtype.intern();
        if (t == ScalarType.Float) return 0;
        if (t == ScalarType.BFloat16) return 1;
        if (t == ScalarType.Half) return 2;
        throw new IllegalArgumentException("output dtype must be float32, bfloat16 or float16, got " + t);
    }

    static long address(Tensor t) {
        return t.data_ptr().address();
    }

    /** Null when the native kernels can dequantize {@code w} into {@code out}; otherwise what is wrong. */
    static String problem(QuantizedWeight w, Tensor out) {
        if (out == null || !out.defined()) return "output tensor is missing";
        try {
            Kernels.checkOutput(w, out);
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
        Device d = out.device();
        if (w instanceof Bnb4bitWeight b) return bnbProblem(b, d);
        if (w instanceof Int4Weight q) return int4Problem(q, d);
        return "unsupported weight class " + w.getClass().getSimpleName();
    }

    static String bnbProblem(Bnb4bitWeight w, Device d) {
        int bs = w.blocksize();
        if (bs < 32 || bs > 4096 || Integer.bitCount(bs) != 1)
            return "blocksize " + bs + " is not a power of two in 32..4096";
        long n = w.numel(), nblocks = (n + bs - 1) / bs;
        String p = tensorProblem("packed weight", w.packed(), ScalarType.Byte, (n + 1) / 2, d);
        if (p == null) p = tensorProblem("quant_map", w.quantMap(), ScalarType.Float, 16, d);
        Bnb4bitWeight.NestedAbsmax nested = w.nested();
        if (p == null) p = tensorProblem("absmax", w.absmax(), nested == null ? ScalarType.Float : ScalarType.Byte, nblocks, d);
        if (p != null || nested == null) return p;
        if (nested.blocksize() < 1) return "nested blocksize must be >= 1, got " + nested.blocksize();
        p = tensorProblem("nested_absmax", nested.absmax(), ScalarType.Float, (nblocks + nested.blocksize() - 1) / nested.blocksize(), d);
        if (p == null) p = tensorProblem("nested_quant_map", nested.quantMap(), ScalarType.Float, 256, d);
        return p;
    }

    private static String int4Problem(Int4Weight w, Device d) {
        int g = w.groupSize();
        if (g < 8 || g % 8 != 0) return "INT4 group size " + g + " is not a positive multiple of 8";
        if (w.cols() % g != 0 || w.cols() % 8 != 0 || w.rows() % 8 != 0)
            return "INT4 shape [" + w.rows() + ", " + w.cols() + "] does not fit group size " + g;
        String p = tensorProblem("qweight", w.qweight(), ScalarType.Int, w.cols() / 8 * w.rows(), d);
        if (p == null) p = tensorProblem("qzeros", w.qzeros(), ScalarType.Int, w.cols() / g * (w.rows() / 8), d);
        if (p == null) p = tensorProblem("scales", w.scales(), ScalarType.Half, w.cols() / g * w.rows(), d);
        return p;
    }

    private static String tensorProblem(String name, Tensor t, ScalarType dtype, long numel, Device d) {
        if (t == null || !t.defined()) return name + " is missing";
        if (Tensors.dtype(t) != dtype) return name + " must be " + dtype + ", got " + t.scalar_type();
        if (t.numel() != numel) return name + " must have " + numel + " elements, got " + t.numel();
        if (!t.is_contiguous()) return name + " must be contiguous";
        if (!t.device().equals(d))
            return name + " is on " + t.device().str().getString() + " but the output is on " + d.str().getString();
        return null;
    }
}
