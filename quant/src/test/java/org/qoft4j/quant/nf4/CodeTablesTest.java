package org.qoft4j.quant.nf4;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.math.BigDecimal;
import java.util.Arrays;
import java.util.Random;
import org.apache.commons.math3.distribution.NormalDistribution;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.qoft4j.core.Tensors;

class CodeTablesTest {
    /** The NF4 values as the spec prints them (decimal). */
    private static final double[] SPEC_NF4 = {-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
        0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0};

    @Test
    void nf4BitsAreTheSpecDecimals() {
        float[] t = CodeTables.nf4();
        for (int i = 0; i < 16; i++) assertEquals((float) SPEC_NF4[i], t[i], "code " + i);
    }

    /**
     * bitsandbytes' create_normal_map(offset=0.9677083): normal quantiles at 9 points of
     * torch.linspace(offset, 0.5, 9) (float32) for the positive side, dropping the last (0.5), and 8 for the
     * negative side, plus 0; sorted and divided by the maximum in float32.
     */
    @Test
    void nf4TableIsDerivedFromNormalQuantiles() {
        NormalDistribution normal = new NormalDistribution(0, 1);
        float offset = 0.9677083f;
        float[] v = new float[16];
        int k = 0;
        float[] p9 = DynamicMap8bit.linspace(offset, 0.5f, 9);
        for (int i = 0; i < 8; i++) v[k++] = (float) normal.inverseCumulativeProbability(p9[i]);
        float[] p8 = DynamicMap8bit.linspace(offset, 0.5f, 8);
        for (int i = 0; i < 7; i++) v[k++] = (float) -normal.inverseCumulativeProbability(p8[i]);
        v[k] = 0f;
        Arrays.sort(v);
        float max = v[15];
        for (int i = 0; i < 16; i++) v[i] /= max;
        float[] t = CodeTables.nf4();
        for (int i = 0; i < 16; i++)
            assertEquals(t[i], v[i], Math.ulp(t[i]), "code " + i + ": derived " + v[i] + " vs table " + t[i]);
    }

    /** bitsandbytes' C literals for the thresholds (the spec's list). */
    private static final String[] SPEC_THRESHOLDS = {"-0.8480964004993439", "-0.6106329262256622", "-0.4599952697753906",
        "-0.33967943489551544", "-0.23460740596055984", "-0.13791173323988914", "-0.045525018125772476",
        "0.03979014977812767", "0.1202552504837513", "0.2035212516784668", "0.2920137718319893", "0.3893125355243683",
        "0.5016634166240692", "0.6427869200706482", "0.8614784181118011"};

    @Test
    void nf4ThresholdsAreTheCorrectlyRoundedLiteralsAndMidpoints() {
        float[] t = CodeTables.nf4(), th = CodeTables.nf4Thresholds();
        assertEquals(15, th.length);
        for (int i = 0; i < 15; i++) {
            assertEquals(correctlyRounded(SPEC_THRESHOLDS[i]), th[i], "threshold " + i);
            float mid32 = (float) (((double) t[i] + t[i + 1]) / 2);
            assertEquals(mid32, th[i], Math.ulp(mid32), "threshold " + i + " is within an ulp of the float32 midpoint");
        }
    }

    /** The float32 nearest to a decimal (ties to even), computed exactly with BigDecimal, as a C compiler reads "...f". */
    static float correctlyRounded(String decimal) {
        BigDecimal exact = new BigDecimal(decimal);
        float f = (float) exact.doubleValue();
        float best = f;
        for (float c : new float[] {Math.nextDown(f), Math.nextUp(f)}) {
            int cmp = new BigDecimal(c).subtract(exact).abs().compareTo(new BigDecimal(best).subtract(exact).abs());
            if (cmp < 0 || (cmp == 0 && (Float.floatToRawIntBits(c) & 1) == 0)) best = c;
        }
        return best;
    }

    @Test
    void fp4TableIsBitPatternOrderedOverTwelve() {
        float[] expected = {0f, 0.0625f / 12, 8f / 12, 1f, 4f / 12, 6f / 12, 2f / 12, 3f / 12,
            0f, -0.0625f / 12, -8f / 12, -1f, -4f / 12, -6f / 12, -2f / 12, -3f / 12};
        float[] t = CodeTables.fp4();
        assertArrayEquals(expected, t);
        assertEquals(0, Float.floatToRawIntBits(t[8]), "bnb's '-0' is the integer 0: +0.0f");
    }

    @Test
    void nf4CodeCountsThresholdsStrictlyBelow() {
        float[] th = CodeTables.nf4Thresholds();
        for (int i = 0; i < 15; i++) {
            assertEquals(i, CodeTables.nf4Code(th[i]), "a tie at threshold " + i + " goes to the lower code");
            assertEquals(i + 1, CodeTables.nf4Code(Math.nextUp(th[i])), "just above threshold " + i);
            assertEquals(i, CodeTables.nf4Code(Math.nextDown(th[i])), "just below threshold " + i);
        }
        assertEquals(0, CodeTables.nf4Code(-1f));
        assertEquals(15, CodeTables.nf4Code(1f));
        assertEquals(7, CodeTables.nf4Code(0f));
        assertEquals(7, CodeTables.nf4Code(-0f));
    }

    /** Cross-check with an independent formulation: torch.bucketize over the float32 thresholds. */
    @Test
    void nf4CodeAgreesWithBucketize() {
        try (PointerScope scope = new PointerScope()) {
            Random rnd = new Random(7);
            float[] s = new float[100_000];
            for (int i = 0; i < s.length; i++) s[i] = rnd.nextFloat() * 2.2f - 1.1f;
            Tensor codes = torch.bucketize(Tensors.of(s, s.length), Tensors.of(CodeTables.nf4Thresholds(), 15));
            long[] c = Tensors.toLongs(codes);
            for (int i = 0; i < s.length; i++) assertEquals(c[i], CodeTables.nf4Code(s[i]), "s = " + s[i]);
        }
    }

    @Test
    void fp4CodeFollowsTheLiteralGpuRule() {
        assertEquals(0, CodeTables.fp4Code(-0f), "-0.0 encodes as +0");
        assertEquals(0, CodeTables.fp4Code(0f));
        assertEquals(0b1000, CodeTables.fp4Code(-1e-4f), "tiny negatives keep their sign bit");
        assertEquals(0b011, CodeTables.fp4Code(1f));
        assertEquals(0b1011, CodeTables.fp4Code(-1f));
        // at each literal the lower code wins; just above it the upper one
        float[] literal = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f, 0.4166667f, 0.583333f, 0.8333333f};
        int[] below = {0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010};
        int[] above = {0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011};
        for (int i = 0; i < literal.length; i++) {
            assertEquals(below[i], CodeTables.fp4Code(literal[i]), "at " + literal[i]);
            assertEquals(above[i], CodeTables.fp4Code(Math.nextUp(literal[i])), "above " + literal[i]);
            assertEquals(0b1000 | above[i], CodeTables.fp4Code(-Math.nextUp(literal[i])), "below -" + literal[i]);
        }
        // 0.583333f is not the exact midpoint 7/12: a value between them still codes up (GPU behaviour)
        assertEquals(0b010, CodeTables.fp4Code(0.5833332f > 0.583333f ? 0.5833332f : Math.nextUp(0.583333f)));
    }
}
