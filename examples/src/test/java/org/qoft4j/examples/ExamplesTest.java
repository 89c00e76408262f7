package org.qoft4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** CI runs the quickest examples (seconds each) and checks what they print; the others are compiled by the build. */
class ExamplesTest {
    @Test
    void quantizeAndInspectReportsEveryFormat() {
        String s = run(() -> QuantizeAndInspect.main(new String[0]));
        for (String f : new String[] {"NF4 (bnb, block 64)", "NF4 (bnb, block 64, double quant)", "FP4 (bnb, block 64)", "INT4 (GPTQ, group 128)"}) {
            Matcher m = Pattern.compile(Pattern.quote(f) + "\\s+[\\d,]+ bytes = ([\\d.]+) bits/weight.*RMS weight ([\\d.]+)").matcher(s);
            assertTrue(m.find(), f + " missing in:\n" + s);
            double bits = Double.parseDouble(m.group(1)), relErr = Double.parseDouble(m.group(2));
            assertTrue(bits > 4 && bits < 5, f + ": " + bits + " bits/weight");
            assertTrue(relErr > 0 && relErr < 0.3, f + ": relative error " + relErr);
        }
        Matcher whole = Pattern.compile("whole model weights: fp32 [\\d,]+ bytes, NF4 [\\d,]+ bytes \\(([\\d.]+)x smaller\\)").matcher(s);
        assertTrue(whole.find(), s);
        assertTrue(Double.parseDouble(whole.group(1)) > 1.5, s);
    }

    @Test
    void oftV1AndV2AgreeOnASmallLayer() {
        String s = run(() -> OftV1VsV2.main(new String[] {"128", "32"}));
        Matcher p = Pattern.compile("trainable parameters v2 ([\\d,]+), v1 ([\\d,]+)").matcher(s);
        assertTrue(p.find(), s);
        assertEquals(p.group(1), p.group(2), s);
        assertEquals(4 * 32 * 31 / 2, Integer.parseInt(p.group(1).replace(",", "")), "4 blocks of 32: packed upper triangles");
        Matcher d = Pattern.compile("max \\|y_v1 - y_v2\\| = (\\S+)").matcher(s);
        assertTrue(d.find(), s);
        assertTrue(Double.parseDouble(d.group(1)) < 1e-4, s);
        assertTrue(s.contains("v1 takes"), s);
    }

    private static String run(Runnable main) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            main.run();
        } finally {
            System.setOut(old);
        }
        String s = buf.toString(StandardCharsets.UTF_8);
        old.print(s);
        return s;
    }
}
