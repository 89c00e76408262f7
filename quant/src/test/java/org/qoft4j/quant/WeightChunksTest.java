package org.qoft4j.quant;

import org.qoft4j.core.Tensors;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

class WeightChunksTest extends ScopedTest {
    /** All 65536 fp16 bit patterns widen exactly as libtorch widens them. */
    @Test
    void halfToFloatIsExhaustivelyExact() {
        int[] bits = new int[65536];
        for (int i = 0; i < bits.length; i++) bits[i] = (short) i;
        Tensor half = Tensors.ofInts(bits, 65536).to(ScalarType.Short).view(ScalarType.Half);
        float[] torchValues = Tensors.toFloats(half);
        for (int h = 0; h < 65536; h++) {
            float mine = WeightChunks.halfToFloat(h);
            if (Float.isNaN(torchValues[h])) assertTrue(Float.isNaN(mine), "pattern " + h);
            else assertEquals(Float.floatToRawIntBits(torchValues[h]), Float.floatToRawIntBits(mine), "pattern " + Integer.toHexString(h));
        }
    }

    @Test
    void readsEveryDtypeAndOffsetExactly() {
        Tensor w = torch.randn(37, 41);
        for (ScalarType dt : new ScalarType[] {ScalarType.Float, ScalarType.BFloat16, ScalarType.Half}) {
            Tensor t = w.to(dt);
            float[] expected = Tensors.toFloats(t);
            WeightChunks chunks = new WeightChunks("w", t);
            float[] got = new float[100];
            chunks.read(517, got, 100);
            float[] want = new float[100];
            System.arraycopy(expected, 517, want, 0, 100);
            assertArrayEquals(want, got, dt.toString());
            WeightChunks transposed = new WeightChunks("wt", t.t());
            transposed.read(0, got, 41);
            assertArrayEquals(java.util.Arrays.copyOf(Tensors.toFloats(t.t()), 41), java.util.Arrays.copyOf(got, 41));
        }
    }
}
