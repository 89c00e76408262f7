package org.qoft4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DataLoaderTest {
    static List<Sample> samples(int n, long seed) {
        Random r = new Random(seed);
        List<Sample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long[] ids = new long[2 + r.nextInt(9)];
            for (int j = 0; j < ids.length; j++) ids[j] = 1000 * i + j; // ids identify (sample, token)
            long[] labels = ids.clone();
            labels[1] = Sample.IGNORE; // a prompt token
            out.add(new Sample(ids, labels));
        }
        return out;
    }

    @Test
    void packingKeepsSamplesWholeWithRestartingPositionsAndSequenceIds() {
        List<Sample> s = samples(30, 1);
        DataLoader l = new DataLoader(s, 16, 3, true, false, 0, 7);
        int seen = 0;
        while (l.hasNextInEpoch()) {
            Batch b = l.next();
            assertTrue(b.size() <= 3 && b.length() <= 16);
            for (int r = 0; r < b.size(); r++) {
                int t = 0;
                long expectSeq = 0;
                while (t < b.length() && b.sequenceIds()[r][t] >= 0) {
                    int sample = (int) (b.inputIds()[r][t] / 1000);
                    Sample orig = s.get(sample);
                    for (int j = 0; j < orig.length(); j++, t++) {
                        assertEquals(orig.inputIds()[j], b.inputIds()[r][t]);
                        assertEquals(j, b.positionIds()[r][t], "positions restart per sample");
                        assertEquals(expectSeq, b.sequenceIds()[r][t]);
                        assertEquals(j == 0 ? Sample.IGNORE : orig.labels()[j], b.labels()[r][t], "first token of a packed sample is never scored");
                    }
                    expectSeq++;
                    seen++;
                }
                for (; t < b.length(); t++) {
                    assertEquals(-1, b.sequenceIds()[r][t]);
                    assertEquals(Sample.IGNORE, b.labels()[r][t]);
                    assertEquals(7, b.inputIds()[r][t]);
                }
            }
        }
        assertEquals(30, seen, "every sample exactly once per epoch");
    }

    @Test
    void paddingPutsOneSamplePerRow() {
        List<Sample> s = samples(7, 2);
        DataLoader l = new DataLoader(s, 16, 4, false, false, 0, 0);
        assertEquals(2, l.batchesPerEpoch());
        Batch b = l.next();
        assertEquals(4, b.size());
        for (int r = 0; r < 4; r++) {
            assertEquals(0, b.sequenceIds()[r][0]);
            for (int t = 0; t < b.length(); t++) assertTrue(b.sequenceIds()[r][t] <= 0);
        }
        assertEquals(3, l.next().size(), "the last batch of an epoch may be smaller");
    }

    @Test
    void shuffleIsSeededPerEpoch() {
        List<Sample> s = samples(40, 3);
        DataLoader a = new DataLoader(s, 32, 2, true, true, 5, 0), b = new DataLoader(s, 32, 2, true, true, 5, 0),
                c = new DataLoader(s, 32, 2, true, true, 6, 0);
        Batch a0 = a.next();
        assertArrayEquals(a0.inputIds(), b.next().inputIds());
        assertTrue(!Arrays.deepEquals(a0.inputIds(), c.next().inputIds()), "another seed, another order");
        DataLoader d = new DataLoader(s, 32, 2, true, true, 5, 0);
        d.seek(new DataCursor(1, 0));
        assertTrue(!Arrays.deepEquals(a0.inputIds(), d.next().inputIds()), "epoch 1 has its own order");
    }

    @Test
    void cursorResumesExactlyMidEpochAndAcrossEpochs() {
        List<Sample> s = samples(25, 4);
        DataLoader straight = new DataLoader(s, 20, 2, true, true, 9, 0);
        List<Batch> all = new ArrayList<>();
        for (int i = 0; i < 3 * straight.batchesPerEpoch() + 1; i++) all.add(straight.next());
        int perEpoch = new DataLoader(s, 20, 2, true, true, 9, 0).batchesPerEpoch();
        for (int stop : new int[] {1, perEpoch - 1, perEpoch, perEpoch + 2}) {
            DataLoader first = new DataLoader(s, 20, 2, true, true, 9, 0);
            for (int i = 0; i < stop; i++) first.next();
            DataCursor saved = first.cursor();
            DataLoader resumed = new DataLoader(s, 20, 2, true, true, 9, 0);
            resumed.seek(saved);
            for (int i = stop; i < all.size(); i++) {
                Batch want = all.get(i), got = resumed.next();
                assertArrayEquals(want.inputIds(), got.inputIds(), "batch " + i + " after resuming at " + saved);
                assertArrayEquals(want.labels(), got.labels());
            }
        }
        assertNotEquals(0, perEpoch);
    }
}
