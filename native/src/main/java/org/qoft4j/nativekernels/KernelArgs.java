package org.qoft4j.nativekernels;

import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.Int4Weight;
import org.qoft4j.quant.QuantizedWeight;

/**
 * A weight's arguments for the C API, read once: the raw addresses and sizes that {@code qoft4j_native.h} and
 * {@code qoft4j_cuda_abi.h} take, in their order. Every native call on a weight goes through these records, so
 * the mapping from a weight to C arguments (a bnb weight without double quantization passes null addresses,
 * offset 0 and nested blocksize 1) is written once. Build them only from weights that {@link WeightChecks}
 * accepted for the output at hand: nothing here checks sizes.
 */
sealed interface KernelArgs {
    /** What the kernels dequantize, for error messages: "NF4/FP4" or "INT4". */
    String format();

    /** {@code qoft4j_dequant_*} into the CPU buffer {@code out} (dtype code of {@link WeightChecks#dtypeCode}); the C status. */
    int dequantizeCpu(long out, int outDtype);

    /** {@code qoft4j_cu_dequant_*} into the device buffer {@code out}, queued on {@code stream}; the C status. */
    int dequantizeCuda(int device, long out, int outDtype, long stream);

    static KernelArgs of(QuantizedWeight w) {
        if (w instanceof Bnb4bitWeight b) return Bnb.of(b);
        if (w instanceof Int4Weight q) return Int4.of(q);
        throw new IllegalArgumentException("unsupported weight class " + w.getClass().getSimpleName());
    }

    /** An NF4/FP4 weight: {@code absmaxIsCodes} is 1 with double quantization (absmax holds uint8 codes). */
    record Bnb(long packed, long absmax, int absmaxIsCodes, long quantMap, long nestedAbsmax, long nestedMap,
               float offset, long nestedBlocksize, long numel, long rows, long cols, long blocksize) implements KernelArgs {
        static Bnb of(Bnb4bitWeight w) {
            Bnb4bitWeight.NestedAbsmax nested = w.nested();
            boolean dq = nested != null;
            return new Bnb(WeightChecks.address(w.packed()), WeightChecks.address(w.absmax()), dq ? 1 : 0,
                    WeightChecks.address(w.quantMap()), dq ? WeightChecks.address(nested.absmax()) : 0,
                    dq ? WeightChecks.address(nested.quantMap()) : 0, dq ? nested.offset() : 0f, dq ? nested.blocksize() : 1,
                    w.numel(), w.rows(), w.cols(), w.blocksize());
        }

        @Override
        public String format() {
            return "NF4/FP4";
        }

        @Override
        public int dequantizeCpu(long out, int outDtype) {
            return NativeApi.qoft4j_dequant_bnb(packed, absmax, absmaxIsCodes, quantMap, nestedAbsmax, nestedMap, offset,
                    nestedBlocksize, numel, blocksize, out, outDtype);
        }

        @Override
        public int dequantizeCuda(int device, long out, int outDtype, long stream) {
            return NativeApi.qoft4j_cu_dequant_bnb(device, packed, absmax, absmaxIsCodes, quantMap, nestedAbsmax, nestedMap,
                    offset, nestedBlocksize, numel, blocksize, out, outDtype, stream);
        }
    }

    /** A GPTQ INT4 weight {@code [rows, cols]} with {@code group} input columns per scale and zero point. */
    record Int4(long qweight, long qzeros, long scales, long rows, long cols, long group) implements KernelArgs {
        static Int4 of(Int4Weight w) {
            return new Int4(WeightChecks.address(w.qweight()), WeightChecks.address(w.qzeros()), WeightChecks.address(w.scales()),
                    w.rows(), w.cols(), w.groupSize());
        }

        @Override
        public String format() {
            return "INT4";
        }

        @Override
        public int dequantizeCpu(long out, int outDtype) {
            return NativeApi.qoft4j_dequant_int4(qweight, qzeros, scales, rows, cols, group, out, outDtype);
        }

        @Override
        public int dequantizeCuda(int device, long out, int outDtype, long stream) {
            return NativeApi.qoft4j_cu_dequant_int4(device, qweight, qzeros, scales, rows, cols, group, out, outDtype, stream);
        }
    }
}
