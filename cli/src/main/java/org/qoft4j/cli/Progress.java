package org.qoft4j.cli;

import org.qoft4j.trainer.StepMetrics;
import org.qoft4j.trainer.TrainSummary;
import org.qoft4j.trainer.TrainingListener;
import java.io.PrintStream;
import org.qoft4j.core.Human;
import java.time.Duration;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress on stderr: step, loss, learning rate, tokens/s and ETA. On a terminal, a progress bar (me.tongfei
 * progressbar); otherwise (logs, CI) a plain line at most every 10 seconds and at the last step, since a
 * redrawn bar would fill a log file with carriage returns.
 */
abstract class Progress implements AutoCloseable {
    abstract void update(StepMetrics m);

    /** A line of its own (evaluations, checkpoints). */
    abstract void note(String line);

    @Override
    public abstract void close();

    static Progress create(boolean enabled, int totalSteps, int startStep) {
        if (!enabled) return new Silent();
        if (System.console() != null) return new Bar(totalSteps, startStep);
        return new Lines(System.err, totalSteps, startStep);
    }

    /** A listener that shows a trainer's progress, created when training starts and closed when it ends. */
    static TrainingListener listener(boolean enabled) {
        return new TrainingListener() {
            private Progress progress = new Silent();

            @Override
            public void onStart(int totalSteps, int startStep) {
                progress = create(enabled, totalSteps, startStep);
            }

            @Override
            public void onStep(StepMetrics m) {
                progress.update(m);
            }

            @Override
            public void onNote(String message) {
                progress.note(message);
            }

            @Override
            public void onEnd(TrainSummary summary) {
                progress.close();
            }
        };
    }

    static String describe(StepMetrics m) {
        return String.format(Locale.ROOT, "loss %.4f  lr %.2e  %,.0f tok/s", m.loss(), m.lr(), m.tokensPerS());
    }

    static final class Silent extends Progress {
        @Override
        void update(StepMetrics m) {}

        @Override
        void note(String line) {}

        @Override
        public void close() {}
    }

    static final class Bar extends Progress {
        private final ProgressBar bar;

        Bar(int total, int start) {
            bar = new ProgressBarBuilder().setTaskName("finetune").setInitialMax(total).startsFrom(start, Duration.ZERO)
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250).build();
        }

        @Override
        void update(StepMetrics m) {
            bar.stepTo(m.step());
            bar.setExtraMessage(describe(m));
        }

        @Override
        void note(String line) {
            System.err.println();
            System.err.println(line);
        }

        @Override
        public void close() {
            bar.close();
        }
    }

    static final class Lines extends Progress {
        private static final long INTERVAL_NS = 10_000_000_000L;
        private final PrintStream out;
        private final int total;
        private final int start;
        private final long started = System.nanoTime();
        private long lastPrint;

        Lines(PrintStream out, int total, int start) {
            this.out = out;
            this.total = total;
            this.start = start;
        }

        @Override
        void update(StepMetrics m) {
            long now = System.nanoTime();
            if (m.step() != total && m.step() != start + 1 && now - lastPrint < INTERVAL_NS) return;
            lastPrint = now;
            double perStep = (now - started) / 1e9 / (m.step() - start);
            out.printf(Locale.ROOT, "step %d/%d  %s  eta %s%n", m.step(), total, describe(m), Human.duration((total - m.step()) * perStep));
        }

        @Override
        void note(String line) {
            out.println(line);
        }

        @Override
        public void close() {
            out.flush();
        }
    }
}
