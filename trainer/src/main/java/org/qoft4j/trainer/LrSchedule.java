package org.qoft4j.trainer;

/**
 * The learning rate of each optimizer step: a linear warmup to {@code peak}, then a cosine decay to
 * {@code peak * minRatio} reached exactly at the last step.
 *
 * <p>Step {@code s} (0-based) during warmup uses {@code peak * (s + 1) / warmup}, so the first step already
 * learns (HF's schedule starts at 0 and wastes it); after warmup the cosine runs over
 * {@code progress = (s - warmup) / (total - warmup - 1)}, from {@code peak} at the first decay step to the floor
 * at the last (a lone decay step runs at the peak).
 *
 * @param peak       the largest learning rate
 * @param warmup     warmup steps (0 = none)
 * @param totalSteps optimizer steps in the whole run
 * @param minRatio   the floor as a fraction of {@code peak}
 */
public record LrSchedule(double peak, int warmup, int totalSteps, double minRatio) {
    public LrSchedule {
        if (!(peak > 0)) throw new IllegalArgumentException("peak learning rate must be positive, got " + peak);
        if (warmup < 0 || totalSteps < 1) throw new IllegalArgumentException("need warmup >= 0 and total steps >= 1, got " + warmup + ", " + totalSteps);
        if (!(minRatio >= 0 && minRatio <= 1)) throw new IllegalArgumentException("min ratio must be in [0, 1], got " + minRatio);
    }

    public static LrSchedule of(TrainConfig c, int totalSteps) {
        return new LrSchedule(c.lr(), c.warmup(), totalSteps, c.minLrRatio());
    }

    /** The learning rate of optimizer step {@code step} (0-based). */
    public double at(int step) {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        if (step < warmup) return peak * (step + 1) / warmup;
        int decaySteps = totalSteps - warmup - 1;
        double progress = decaySteps <= 0 ? 0 : Math.min(1.0, (step - warmup) / (double) decaySteps);
        double floor = peak * minRatio;
        return floor + (peak - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
}
