package org.qoft4j.cli.bench;

import java.util.List;
import org.qoft4j.trainer.StepMetrics;

/**
 * Step time and throughput over the timed steps of a run: all but the first {@code untimed} (allocator and JIT
 * warm-up), or all of them when the run is not longer than that.
 *
 * @param meanSeconds mean step wall time
 * @param bestSeconds the fastest step (the least disturbed on a shared machine)
 * @param tokensPerS  input tokens over the timed steps' total time
 * @param medianSeconds the median step (what a steady step costs, untouched by a few disturbed ones)
 */
public record StepStats(int timedSteps, double meanSeconds, double bestSeconds, double tokensPerS, double medianSeconds) {
    public static StepStats of(List<StepMetrics> steps, int untimed) {
        if (steps.isEmpty()) throw new IllegalArgumentException("no steps to time");
        List<StepMetrics> timed = steps.size() > untimed ? steps.subList(untimed, steps.size()) : steps;
        double seconds = 0, best = Double.MAX_VALUE;
        long tokens = 0;
        for (StepMetrics s : timed) {
            seconds += s.stepSeconds();
            tokens += s.tokens();
            best = Math.min(best, s.stepSeconds());
        }
        return new StepStats(timed.size(), seconds / timed.size(), best, tokens / seconds,
                median(timed.stream().map(StepMetrics::stepSeconds).toList()));
    }

    /** The middle value (the mean of the two middle ones for an even count); NaN for none. */
    static double median(List<Double> xs) {
        double[] v = xs.stream().mapToDouble(x -> x).sorted().toArray();
        int n = v.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
}
