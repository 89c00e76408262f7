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

    /** A batch's rows without their padding (rows are padded to the longest row of their own batch). */
    static List<List<Long>> rows(Batch b) {
        List<List<Long>> rows = new ArrayList<>();
        for (int r = 0; r < b.size(); r++) {
            List<Long> row = new ArrayList<>();
            for (int t = 0; t < b.length() && b.sequenceIds()[r][t] >= 0; t++) row.add(b.inputIds()[r][t]);
            rows.add(row);
        }
        return rows;
    }

    @Test
    void ranksTakeDisjointSharesThatTogetherAreTheSingleProcessBatch() {
        List<Sample> s = samples(64, 5);
        for (boolean packing : new boolean[] {true, false}) {
            int world = 3, b = 2;
            long seed = seedWithShortTails(s, packing, world, b); // (tails of fewer rows than ranks are dropped: the next test)
            DataLoader single = new DataLoader(s, 20, world * b, packing, true, seed, 0);
            DataLoader[] ranks = new DataLoader[world];
            for (int k = 0; k < world; k++) ranks[k] = new DataLoader(s, 20, b, packing, true, seed, 0, k, world);
            int perEpoch = single.batchesPerEpoch();
            for (int k = 0; k < world; k++) assertEquals(perEpoch, ranks[k].batchesPerEpoch(), "every rank counts the same global batches");
            boolean sawShortTail = false;
            for (int i = 0; i < 2 * perEpoch + 1; i++) { // into a second epoch and beyond: each epoch's shuffle is the same on every rank
                List<List<Long>> want = rows(single.next()), got = new ArrayList<>();
                int smallest = Integer.MAX_VALUE, largest = 0;
                for (DataLoader r : ranks) {
                    List<List<Long>> share = rows(r.next());
                    smallest = Math.min(smallest, share.size());
                    largest = Math.max(largest, share.size());
                    got.addAll(share);
                }
                assertEquals(want, got, "global batch " + i + " (packing " + packing + "): rank shares in rank order = the single-process batch");
                assertTrue(smallest >= 1 && largest - smallest <= 1, "shares of " + smallest + ".." + largest + " rows");
                sawShortTail |= want.size() < world * b;
                for (DataLoader r : ranks) assertEquals(single.cursor(), r.cursor());
            }
            assertTrue(sawShortTail, "the data should end an epoch with a short global batch (the remainder case)");
        }
    }

    /** A seed whose first three epochs end with a short global batch of at least {@code world} rows. */
    static long seedWithShortTails(List<Sample> s, boolean packing, int world, int b) {
        for (long seed = 1; seed < 100; seed++) {
            DataLoader l = new DataLoader(s, 20, world * b, packing, true, seed, 0);
            boolean ok = true;
            for (int e = 0; e < 3 && ok; e++) {
                l.seek(new DataCursor(e, 0));
                l.seek(new DataCursor(e, l.batchesPerEpoch() - 1));
                int tail = l.next().size();
                ok = tail >= world && tail < world * b;
            }
            if (ok) return seed;
        }
        throw new AssertionError("no seed below 100 gives short tails");
    }

    @Test
    void aTailWithFewerRowsThanRanksIsDroppedAndTooLittleDataIsAnError() {
        List<Sample> s = samples(7, 2);  // no packing: 7 rows
        DataLoader single = new DataLoader(s, 16, 6, false, false, 0, 0);
        assertEquals(2, single.batchesPerEpoch(), "one process keeps the 1-row tail");
        DataLoader rank1 = new DataLoader(s, 16, 3, false, false, 0, 0, 1, 2);
        assertEquals(1, rank1.batchesPerEpoch(), "two ranks drop a 1-row tail");
        assertEquals(3, rank1.next().size());
        rank1.next();
        assertEquals(new DataCursor(1, 1), rank1.cursor(), "the next epoch starts after the dropped tail");
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new DataLoader(samples(2, 1), 16, 1, false, false, 0, 0, 0, 3).next());
        assertTrue(e.getMessage().contains("2 row(s)") && e.getMessage().contains("3 ranks"), e.getMessage());
    }
}
