package org.qoft4j.quant.nf4;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
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

/** The Java quantizer against an independent libtorch formulation of the spec, on random data; dtypes; storage. */
class Bnb4bitQuantizerTest extends ScopedTest {
    private static final float[] FP4_LITERALS = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f, 0.4166667f, 0.583333f, 0.8333333f};
    private static final long[] FP4_MAGNITUDE = {0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011};

    /** Gaussian rows of varying scale, with some all-zero stretches. */
    private static float[] data(long seed, int n) {
        Random rnd = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            float scale = (float) Math.pow(10, (i / 97) % 5 - 2);
            v[i] = (i / 300) % 4 == 3 ? 0f : (float) rnd.nextGaussian() * scale;
        }
        return v;
    }

    /**
     * Codes by libtorch ops: pad to whole blocks, absmax per block, s = x * reciprocal(absmax) (0 where absmax is 0),
     * then bucketize against the NF4 thresholds, or against the FP4 literals plus the sign rule.
     */
    private static long[] referenceCodes(float[] x, int bs, QuantType type, float[] absmaxOut) {
        int n = x.length, nb = (n + bs - 1) / bs;
        float[] padded = java.util.Arrays.copyOf(x, nb * bs);
        Tensor blocks = Tensors.of(padded, nb, bs);
        Tensor absmax = blocks.abs().amax(new long[] {1}, true);                          // [nb, 1]
        Tensor r = absmax.reciprocal().masked_fill(absmax.eq(new Scalar(0f)), new Scalar(0f));
        Tensor s = blocks.mul(r).reshape(-1);
        Tensor codes;
        if (type == QuantType.NF4) {
            codes = torch.bucketize(s, Tensors.of(CodeTables.nf4Thresholds(), 15));
        } else {
            Tensor k = torch.bucketize(s.abs(), Tensors.of(FP4_LITERALS, 7));
            Tensor mag = Tensors.ofLongs(FP4_MAGNITUDE, 8).index_select(0, k);
            codes = mag.add(s.lt(new Scalar(0f)).to(ScalarType.Long).mul(new Scalar(8L)));
        }
        System.arraycopy(Tensors.toFloats(absmax), 0, absmaxOut, 0, nb);
        return Tensors.toLongs(codes);
    }

    @ParameterizedTest
    @CsvSource({"NF4, 64, 37, 129", "NF4, 32, 5, 7", "NF4, 256, 64, 100", "FP4, 64, 37, 129", "FP4, 128, 11, 13", "NF4, 4096, 3, 3001"})
    void codesAndAbsmaxMatchTorchFormulation(QuantType type, int bs, int rows, int cols) {
        int n = rows * cols;
        float[] x = data(rows * 1000L + cols, n);
        try (Bnb4bitWeight w = (Bnb4bitWeight) Quantizer.quantize(Tensors.of(x, rows, cols), new QuantSpec(type, bs, false, 128))) {
            float[] absmax = new float[(n + bs - 1) / bs];
            long[] expected = referenceCodes(x, bs, type, absmax);
            assertArrayEquals(absmax, Tensors.toFloats(w.absmax()));
            byte[] p = Tensors.toBytes(w.packed());
            assertEquals((n + 1) / 2, p.length);
            for (int i = 0; i < 2 * p.length; i++) {
                int c = i % 2 == 0 ? (p[i / 2] >> 4) & 15 : p[i / 2] & 15;
                assertEquals(expected[i], c, "element " + i + " (x = " + (i < n ? x[i] : 0f) + ")");
            }
        }
    }

    /** bf16/fp16 weights quantize as their exact float32 values and remember their dtype. */
    @Test
    void halfPrecisionInputs() {
        Tensor f32 = Tensors.of(data(9, 24 * 160), 24, 160);
        for (ScalarType dt : new ScalarType[] {ScalarType.BFloat16, ScalarType.Half}) {
            Tensor low = f32.to(dt);
            try (Bnb4bitWeight a = (Bnb4bitWeight) Quantizer.quantize(low, QuantSpec.nf4().withDoubleQuant(true));
                 Bnb4bitWeight b = (Bnb4bitWeight) Quantizer.quantize(low.to(ScalarType.Float), QuantSpec.nf4().withDoubleQuant(true))) {
                assertEquals(dt, a.originalDtype());
                assertEquals(ScalarType.Float, b.originalDtype());
                assertArrayEquals(Tensors.toBytes(b.packed()), Tensors.toBytes(a.packed()));
                assertArrayEquals(Tensors.toBytes(b.absmax()), Tensors.toBytes(a.absmax()));
                assertEquals(b.nested().offset(), a.nested().offset());
            }
        }
    }

    /** A non-contiguous (transposed) weight quantizes as its contiguous copy. */
    @Test
    void nonContiguousInput() {
        Tensor w = Tensors.of(data(10, 64 * 96), 64, 96);
        try (Bnb4bitWeight a = (Bnb4bitWeight) Quantizer.quantize(w.t(), QuantSpec.nf4());
             Bnb4bitWeight b = (Bnb4bitWeight) Quantizer.quantize(w.t().contiguous(), QuantSpec.nf4())) {
            assertEquals(96, a.rows());
            assertArrayEquals(Tensors.toBytes(b.packed()), Tensors.toBytes(a.packed()));
        }
    }

    /** Byte-exact accounting of a 4096x4096 layer: packed codes + statistics + code tables. */
    @Test
    void storageOf4096Square() {
        long n = 4096L * 4096, nb = n / 64;
        Tensor weight = torch.randn(4096, 4096);
        try (Bnb4bitWeight plain = (Bnb4bitWeight) Quantizer.quantize(weight, QuantSpec.nf4());
             Bnb4bitWeight dq = (Bnb4bitWeight) Quantizer.quantize(weight, QuantSpec.nf4().withDoubleQuant(true))) {
            assertEquals(n / 2 + nb * 4 + 16 * 4, plain.storageBytes());
            assertEquals(n / 2 + nb + 16 * 4 + (nb / 256) * 4 + 256 * 4, dq.storageBytes());
            assertTrue(plain.bitsPerWeight() <= 4.51, "without double quant: " + plain.bitsPerWeight());
            assertTrue(dq.bitsPerWeight() <= 4.13, "with double quant: " + dq.bitsPerWeight());
        }
    }
}
