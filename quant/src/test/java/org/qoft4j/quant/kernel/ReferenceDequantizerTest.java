package org.qoft4j.quant.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.linear.Quantizer;
import org.qoft4j.quant.ScopedTest;
import org.qoft4j.core.Tensors;

/** The libtorch reference against a scalar Java decoding of the same bytes, in the spec's operation order. */
class ReferenceDequantizerTest extends ScopedTest {
    private static float[] gaussian(long seed, int n) {
        Random rnd = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextGaussian();
        return v;
    }

    /** Element by element: s = nested_map[code] * nested[b/256] + offset (or absmax[b]); w = quant_map[nibble] * s. */
    private static float[] scalarDecode(Bnb4bitWeight w) {
        int n = (int) w.numel(), bs = w.blocksize();
        byte[] packed = Tensors.toBytes(w.packed());
        float[] qm = Tensors.toFloats(w.quantMap());
        float[] absmax = new float[(int) w.nblocks()];
        if (w.nested() == null) {
            absmax = Tensors.toFloats(w.absmax());
        } else {
            byte[] codes = Tensors.toBytes(w.absmax());
            float[] map = Tensors.toFloats(w.nested().quantMap()), nested = Tensors.toFloats(w.nested().absmax());
            for (int b = 0; b < absmax.length; b++)
                absmax[b] = map[codes[b] & 255] * nested[b / w.nested().blocksize()] + w.nested().offset();
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            int nibble = i % 2 == 0 ? (packed[i / 2] >> 4) & 15 : packed[i / 2] & 15;
            out[i] = qm[nibble] * absmax[i / bs];
        }
        return out;
    }

    @ParameterizedTest
    @CsvSource({"NF4, 64, false, 32, 128", "NF4, 64, true, 96, 520", "FP4, 128, false, 33, 77", "FP4, 32, true, 7, 9",
        "NF4, 4096, true, 3, 1001", "NF4, 32, true, 256, 257"})
    void matchesScalarDecodeInEveryDtype(QuantType type, int blocksize, boolean dq, int rows, int cols) {
        Tensor weight = Tensors.of(gaussian(rows * 31L + cols, rows * cols), rows, cols);
        try (Bnb4bitWeight w = (Bnb4bitWeight) Quantizer.quantize(weight, new QuantSpec(type, blocksize, dq, 128))) {
            float[] expected = scalarDecode(w);
            Tensor f32 = Kernels.dequantize(w, ScalarType.Float);
            assertArrayEquals(new long[] {rows, cols}, Tensors.shape(f32));
            assertArrayEquals(expected, Tensors.toFloats(f32));
            Tensor out = torch.empty(new long[] {rows, cols}, new TensorOptions(ScalarType.Float), null);
            Kernels.reference().dequantize(w, out);
            assertArrayEquals(expected, Tensors.toFloats(out));
            for (ScalarType dt : new ScalarType[] {ScalarType.BFloat16, ScalarType.Half}) {
                Tensor low = Kernels.dequantize(w, dt);
                assertEquals(dt, Tensors.dtype(low));
                // one cast at the end: identical to rounding the float32 result once
                assertArrayEquals(Tensors.toFloats(Tensors.of(expected, rows, cols).to(dt)), Tensors.toFloats(low), dt.toString());
            }
        }
    }

    @Test
    void int4MatchesScalarDecode() {
        Tensor weight = Tensors.of(gaussian(5, 16 * 256), 16, 256);
        try (org.qoft4j.quant.Int4Weight w = (org.qoft4j.quant.Int4Weight) Quantizer.quantize(weight, QuantSpec.of(QuantType.INT4))) {
            long[] qw = Tensors.toLongs(w.qweight()), qz = Tensors.toLongs(w.qzeros());
            float[] sc = Tensors.toFloats(w.scales());
            float[] expected = new float[16 * 256];
            for (int o = 0; o < 16; o++)
                for (int i = 0; i < 256; i++) {
                    int q = (int) (qw[(i / 8) * 16 + o] >>> (4 * (i % 8))) & 15;
                    int z = (int) ((qz[(i / 128) * 2 + o / 8] >>> (4 * (o % 8))) & 15) + 1;
                    expected[o * 256 + i] = (q - z) * sc[(i / 128) * 16 + o];
                }
            assertArrayEquals(expected, Tensors.toFloats(Kernels.dequantize(w, ScalarType.Float)));
            assertArrayEquals(Tensors.toFloats(Tensors.of(expected, 16, 256).to(ScalarType.BFloat16)),
                    Tensors.toFloats(Kernels.dequantize(w, ScalarType.BFloat16)));
        }
    }

    @Test
    void rejectsBadOutputs() {
        try (Bnb4bitWeight w = (Bnb4bitWeight) Quantizer.quantize(Tensors.of(gaussian(1, 64), 8, 8), QuantSpec.nf4())) {
            assertThrows(IllegalArgumentException.class,
                    () -> Kernels.dequantizeInto(w, torch.empty(new long[] {8, 8}, new TensorOptions(ScalarType.Double), null)));
            assertThrows(IllegalArgumentException.class,
                    () -> Kernels.dequantizeInto(w, torch.empty(new long[] {4, 16}, new TensorOptions(ScalarType.Float), null)));
            assertThrows(IllegalArgumentException.class,
                    () -> Kernels.dequantizeInto(w, torch.empty(new long[] {8, 8}, new TensorOptions(ScalarType.Float), null).t()
                            .contiguous().t()));
        }
    }
}
