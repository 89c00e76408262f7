package org.qoft4j.model;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from one row of logits: argmax when greedy, else temperature-scaled softmax sampling
 * restricted to the top-p nucleus. Runs in Java on a copy of the logits so the random stream is the
 * sampler's own (seeded), not libtorch's global generator.
 */
public final class Sampler {
    private final double temperature;
    private final double topP;
    private final SplittableRandom random;

    public Sampler(double temperature, double topP, long seed) {
        this.temperature = temperature;
        this.topP = topP;
        this.random = new SplittableRandom(seed);
    }

    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i; // ties: lowest id
        return best;
    }

    public int next(float[] logits) {
        if (temperature == 0) return argmax(logits);
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        double[] p = new double[logits.length];
        double z = 0;
        for (int i = 0; i < p.length; i++) z += p[i] = Math.exp((logits[i] - max) / temperature);
        Integer[] order = new Integer[p.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        int keep = 0;
        double mass = 0;
        while (keep < order.length && (keep == 0 || mass < topP * z)) mass += p[order[keep++]]; // smallest prefix with mass >= topP
        double u = random.nextDouble() * mass;
        for (int i = 0; i < keep; i++) {
            u -= p[order[i]];
            if (u < 0) return order[i];
        }
        return order[keep - 1];
    }
}
