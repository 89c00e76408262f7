package org.qoft4j.quant.nf4;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.SharedSpec;

class DynamicMap8bitTest {
    @Test
    void shape() {
        float[] m = DynamicMap8bit.values();
        assertEquals(256, m.length);
        assertEquals(0f, m[127]);
        assertEquals(1f, m[255]);
        assertEquals(-0.99296875f, m[0]);
        for (int i = 1; i < 256; i++) assertTrue(m[i - 1] < m[i], "strictly ascending at " + i);
    }

    @Test
    void equalsEveryEntryOfTheSpecTable() throws Exception {
        Path tsv = SharedSpec.file("dynamic-map-8bit.tsv");
        Assumptions.assumeTrue(Files.exists(tsv), "shared spec not present: " + tsv);
        float[] m = DynamicMap8bit.values();
        List<String> lines = Files.readAllLines(tsv);
        int rows = 0;
        for (String line : lines) {
            if (line.isBlank() || line.startsWith("#")) continue;
            String[] f = line.split("\t");
            int idx = Integer.parseInt(f[0]);
            int bits = (int) Long.parseLong(f[1].substring(2), 16);
            assertEquals(bits, Float.floatToRawIntBits(m[idx]), "entry " + idx + ": " + m[idx] + " vs " + f[2]);
            rows++;
        }
        assertEquals(256, rows);
    }

    @Test
    void codeIsTheNearestEntry() {
        float[] m = DynamicMap8bit.values();
        for (int i = 0; i < 256; i++) assertEquals(i, DoubleQuant.code(m, m[i]), "exact entry " + i);
        Random rnd = new Random(3);
        for (int k = 0; k < 20_000; k++) {
            float x = rnd.nextFloat() * 2 - 1;
            if (k % 2 == 0) x *= (float) Math.pow(10, -rnd.nextInt(6)); // exercise the small exponents too
            int c = DoubleQuant.code(m, x);
            int best = 0;
            for (int i = 1; i < 256; i++) if (Math.abs(m[i] - x) < Math.abs(m[best] - x)) best = i;
            assertEquals(Math.abs(m[best] - x), Math.abs(m[c] - x), 1e-7f, "x = " + x + " coded " + c + ", nearest " + best);
        }
    }
}
