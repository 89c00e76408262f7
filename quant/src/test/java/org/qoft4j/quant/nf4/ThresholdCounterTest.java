package org.qoft4j.quant.nf4;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The constant-time code lookup (quantizer fast path) against the reference decision rules. */
class ThresholdCounterTest {
    private static final float[] FP4_LITERALS = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f, 0.4166667f, 0.583333f, 0.8333333f};

    /** Every threshold, literal and cell edge, each with its 8 neighbouring floats on both sides, both signs. */
    private static List<Float> hardValues() {
        List<Float> centres = new ArrayList<>();
        for (float t : CodeTables.nf4Thresholds()) centres.add(t);
        for (float t : FP4_LITERALS) centres.add(t);
        for (int c = 0; c <= ThresholdCounter.CELLS; c++) {
            centres.add(-1f + 2f * c / ThresholdCounter.CELLS);
            centres.add((float) c / ThresholdCounter.CELLS);
        }
        for (float v : new float[] {0f, 1f, 1.0000001f, 1.5f, Float.MAX_VALUE, Float.MIN_VALUE, 1e-30f}) centres.add(v);
        List<Float> out = new ArrayList<>();
        for (float c : centres) {
            float up = c, down = c;
            for (int k = 0; k < 8; k++) {
                out.add(up);
                out.add(down);
                up = Math.nextUp(up);
                down = Math.nextDown(down);
            }
        }
        int n = out.size();
        for (int i = 0; i < n; i++) out.add(-out.get(i));
        out.add(Float.POSITIVE_INFINITY);
        out.add(Float.NEGATIVE_INFINITY);
        return out;
    }

    @Test
    void agreesWithReferenceOnHardValues() {
        for (float v : hardValues()) {
            assertEquals(CodeTables.nf4Code(v), CodeTables.nf4CodeFast(v), "nf4 at " + v);
            assertEquals(CodeTables.fp4Code(v), CodeTables.fp4CodeFast(v), "fp4 at " + v);
        }
    }

    @Test
    void agreesWithReferenceOnRandomValues() {
        SplittableRandom rnd = new SplittableRandom(11);
        for (int i = 0; i < 3_000_000; i++) {
            float v = (float) (rnd.nextDouble() * 2.04 - 1.02);
            if (i % 3 == 0) v *= (float) Math.pow(2, -rnd.nextInt(12));
            if (CodeTables.nf4Code(v) != CodeTables.nf4CodeFast(v) || CodeTables.fp4Code(v) != CodeTables.fp4CodeFast(v))
                assertEquals(CodeTables.nf4Code(v) * 16 + CodeTables.fp4Code(v), CodeTables.nf4CodeFast(v) * 16 + CodeTables.fp4CodeFast(v), "at " + v);
        }
    }

    @Test
    void refusesThresholdsItCannotResolve() {
        assertThrows(IllegalArgumentException.class, () -> new ThresholdCounter(new float[] {0.1f, 0.1001f}, 0f, 1f));
        assertThrows(IllegalArgumentException.class, () -> new ThresholdCounter(new float[] {0.0001f}, 0f, 1f));
    }
}
