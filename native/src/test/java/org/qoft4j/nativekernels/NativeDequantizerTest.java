package org.qoft4j.nativekernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.Int4Weight;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.kernel.Kernels;

/** The native CPU kernels against ReferenceDequantizer, bit for bit, on every instruction-set path. */
class NativeDequantizerTest {
    private static final ScalarType[] DTYPES = {ScalarType.Float, ScalarType.BFloat16, ScalarType.Half};
    private static final NativeDequantizer NATIVE = new NativeDequantizer();
    private static List<String> paths;

    @BeforeAll
    static void load() {
        assertTrue(NativeLibrary.isLoaded(), "native library failed to load: " + NativeLibrary.loadError());
        // every instruction set up to the best this CPU has (the CI machines have AVX-512)
        paths = new ArrayList<>(List.of("scalar", "avx2", "avx512"));
        paths = paths.subList(0, paths.indexOf(NativeLibrary.bestIsa()) + 1);
    }

    @AfterEach
    void restoreIsa() {
        NativeLibrary.setIsa("avx512");
    }

    @Test
    void kernelsPickTheNativeDequantizer() {
        assertInstanceOf(NativeDequantizer.class, Kernels.dequantizer());
        assertTrue(Kernels.dequantizer().name().startsWith("native-"));
    }

    @Test
    void libraryReportsAndCapsItsInstructionSet() {
        assertTrue(paths.contains(NativeLibrary.isa()));
        assertEquals("scalar", NativeLibrary.setIsa("scalar"));
        assertEquals("scalar", NativeLibrary.isa());
        assertEquals(NativeLibrary.bestIsa(), NativeLibrary.setIsa("avx512"));
        assertThrows(IllegalArgumentException.class, () -> NativeLibrary.setIsa("sse9"));
        assertThrows(IllegalArgumentException.class, () -> NativeLibrary.setThreads(0));
        assertTrue(NativeLibrary.threads() >= 1);
    }

    @Test
    void nf4AndFp4EveryBlocksizeOddSizesAndDoubleQuantization() {
        Random rnd = new Random(1);
        long[][] shapes = {{1, 1}, {3, 7}, {5, 33}, {17, 61}, {1, 4095}, {3, 1601}};
        for (String isa : paths) {
            NativeLibrary.setIsa(isa);
            for (QuantType type : new QuantType[] {QuantType.NF4, QuantType.FP4})
                for (int bs = 32; bs <= 4096; bs *= 2)
                    for (long[] shape : shapes)
                        for (boolean dq : new boolean[] {false, true})
                            try (PointerScope scope = new PointerScope();
                                 Bnb4bitWeight w = RandomWeights.bnb(rnd, type, shape[0], shape[1], bs, dq)) {
                                assertBitExact(w, isa + " " + type + " bs=" + bs + " " + shape[0] + "x" + shape[1] + " dq=" + dq);
                            }
        }
    }

    @Test
    void largeWeightsSplitAcrossThreads() {
        Random rnd = new Random(2);
        for (String isa : paths) {
            NativeLibrary.setIsa(isa);
            try (PointerScope scope = new PointerScope();
                 Bnb4bitWeight w = RandomWeights.bnb(rnd, QuantType.NF4, 301, 1027, 64, true);
                 Int4Weight q = RandomWeights.int4(rnd, 264, 1024, 128)) {
                assertBitExact(w, isa + " nf4 301x1027");
                assertBitExact(q, isa + " int4 264x1024");
            }
        }
    }

    @Test
    void int4Groups() {
        Random rnd = new Random(3);
        long[][] shapes = {{8, 8}, {8, 64}, {24, 128}, {40, 256}};
        for (String isa : paths) {
            NativeLibrary.setIsa(isa);
            for (int g : new int[] {8, 16, 24, 32, 64, 128})
                for (long[] shape : shapes) {
                    if (shape[1] % g != 0) continue;
                    try (PointerScope scope = new PointerScope(); Int4Weight w = RandomWeights.int4(rnd, shape[0], shape[1], g)) {
                        assertBitExact(w, isa + " int4 g=" + g + " " + shape[0] + "x" + shape[1]);
                    }
                }
        }
    }

    @Test
    void extremeScalesNanInfAndSubnormals() {
        Random rnd = new Random(4);
        for (String isa : paths) {
            NativeLibrary.setIsa(isa);
            try (PointerScope scope = new PointerScope();
                 Bnb4bitWeight base = RandomWeights.bnb(rnd, QuantType.NF4, 9, 64, 32, false)) {
                // per block: NaN, +inf (inf * 0 = NaN for code 7), a huge value (fp16/bf16 overflow), subnormals, -0
                float[] absmax = {Float.NaN, Float.POSITIVE_INFINITY, 3e38f, 1e-40f, 6e-8f, -0.0f, 70000f, 1e-5f,
                        Float.intBitsToFloat(0x7FA12345), 0.5f, 1f, 2f, 65520f, 65504f, 1.17549435E-38f, 3.0e-39f, 0.1f, 0.2f};
                try (Bnb4bitWeight w = new Bnb4bitWeight(QuantType.NF4, 9, 64, ScalarType.Float, 32, base.packed(),
                        Tensors.of(absmax, absmax.length), base.quantMap(), null)) {
                    assertBitExact(w, isa + " extreme absmax");
                }
            }
        }
    }

    @Test
    void int4InfiniteScalesGiveNanWhereTheReferenceDoes() {
        // q == zero with an infinite scale is 0 * inf = NaN. fp32 and fp16 NaNs match bit for bit; for bf16 the
        // reference's transposed copy writes 0x7FC0 while libtorch's contiguous conversion (and ours) writes 0xFFFF.
        int rows = 8, cols = 16, g = 8;
        int[] qweight = new int[cols / 8 * rows], qzeros = new int[cols / g * rows / 8];
        for (int i = 0; i < qweight.length; i++) qweight[i] = 0x76543210 + i;
        for (int i = 0; i < qzeros.length; i++) qzeros[i] = 0x12345670;
        short[] scales = new short[cols / g * rows];
        for (int i = 0; i < scales.length; i++) scales[i] = (short) (i % 3 == 0 ? 0x7C00 : i % 3 == 1 ? 0xFC00 : 0x3C00);
        for (String isa : paths) {
            NativeLibrary.setIsa(isa);
            try (PointerScope scope = new PointerScope(); Int4Weight w = RandomWeights.int4(rows, cols, g, qweight, qzeros, scales)) {
                for (ScalarType dt : DTYPES) {
                    long[] ref = RandomWeights.bits(dequantize(Kernels.reference(), w, dt));
                    long[] got = RandomWeights.bits(dequantize(NATIVE, w, dt));
                    int nans = 0;
                    for (int i = 0; i < ref.length; i++) {
                        boolean refNan = isNan(ref[i], dt), gotNan = isNan(got[i], dt);
                        assertEquals(refNan, gotNan, isa + " " + dt + " NaN at " + i);
                        if (refNan) nans++;
                        if (!refNan || dt != ScalarType.BFloat16) assertEquals(ref[i], got[i], isa + " " + dt + " element " + i);
                        else assertEquals(0xFFFF, got[i], "bf16 NaN is written as libtorch's vectorized conversion does");
                    }
                    assertTrue(nans > 0, "the case must produce NaNs");
                }
            }
        }
    }

    @Test
    void invalidArgumentsAreExceptionsNotCrashes() {
        Random rnd = new Random(5);
        try (PointerScope scope = new PointerScope(); Bnb4bitWeight w = RandomWeights.bnb(rnd, QuantType.NF4, 4, 64, 64, true)) {
            Tensor wrongShape = torch.empty(new long[] {4, 63}, new TensorOptions(ScalarType.Float), null);
            Tensor wrongDtype = torch.empty(new long[] {4, 64}, new TensorOptions(ScalarType.Double), null);
            Tensor strided = torch.empty(new long[] {64, 4}, new TensorOptions(ScalarType.Float), null).t();
            for (Tensor bad : new Tensor[] {wrongShape, wrongDtype, strided, new Tensor()}) {
                assertFalse(NATIVE.supports(w, bad));
                assertThrows(IllegalArgumentException.class, () -> NATIVE.dequantize(w, bad));
            }
            // a nested code map with 255 entries (codes up to 255 would read past its end) never gets this far:
            // the weight records reject it, and WeightChecks would too
            assertThrows(IllegalArgumentException.class, () -> new Bnb4bitWeight.NestedAbsmax(Tensors.of(new float[] {1f}, 1),
                    Tensors.of(new float[255], 255), 0f, 256));
            // a non-contiguous packed tensor (every other byte of a larger one)
            Tensor gappy = Tensors.ofBytes(new byte[256], 128, 2).select(1, 0).unsqueeze(1);
            try (Bnb4bitWeight bad = new Bnb4bitWeight(QuantType.NF4, 4, 64, ScalarType.Float, 64, gappy, w.absmax(), w.quantMap(), w.nested())) {
                Tensor out = torch.empty(new long[] {4, 64}, new TensorOptions(ScalarType.Float), null);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NATIVE.dequantize(bad, out));
                assertTrue(e.getMessage().contains("packed weight must be contiguous"), e.getMessage());
            }
            // a blocksize the kernels do not handle goes to the reference through Kernels
            float[] absmax = new float[(4 * 64 + 47) / 48];
            try (Bnb4bitWeight odd = new Bnb4bitWeight(QuantType.NF4, 4, 64, ScalarType.Float, 48, w.packed(),
                    Tensors.of(absmax, absmax.length), w.quantMap(), null)) {
                Tensor out = torch.empty(new long[] {4, 64}, new TensorOptions(ScalarType.Float), null);
                assertFalse(NATIVE.supports(odd, out));
                assertThrows(IllegalArgumentException.class, () -> NATIVE.dequantize(odd, out));
                Kernels.dequantizeInto(odd, out);  // reference path: all-zero absmax gives zeros
                assertEquals(0.0, out.abs().sum().item_double());
            }
        }
    }

    private static void assertBitExact(QuantizedWeight w, String label) {
        for (ScalarType dt : DTYPES) {
            Tensor ref = dequantize(Kernels.reference(), w, dt);
            Tensor out = dequantize(NATIVE, w, dt);
            long[] a = RandomWeights.bits(ref), b = RandomWeights.bits(out);
            assertEquals(a.length, b.length);
            for (int i = 0; i < a.length; i++)
                if (a[i] != b[i])
                    fail(label + " " + dt + ": element " + i + " is " + Long.toHexString(b[i]) + ", reference " + Long.toHexString(a[i]));
        }
    }

    private static Tensor dequantize(org.qoft4j.quant.kernel.Dequantizer d, QuantizedWeight w, ScalarType dt) {
        Tensor out = torch.empty(new long[] {w.rows(), w.cols()}, new TensorOptions(dt), null);
        out.fill_(new org.bytedeco.pytorch.Scalar(-7.0));  // no stale zeros can pass for output
        d.dequantize(w, out);
        return out;
    }

    private static boolean isNan(long bits, ScalarType dt) {
        if (dt == ScalarType.Float) return Float.isNaN(Float.intBitsToFloat((int) bits));
        if (dt == ScalarType.BFloat16) return Float.isNaN(Float.intBitsToFloat((int) (bits << 16)));
        return (bits & 0x7C00) == 0x7C00 && (bits & 0x3FF) != 0;
    }
}
