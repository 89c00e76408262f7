package org.qoft4j.trainer;

import java.nio.file.Path;

/**
 * What a running {@link Trainer} tells the outside, on the training thread: the command line draws its progress bar
 * from it, tests and notebooks collect metrics. Every method has an empty default.
 */
public interface TrainingListener {
    /** Before the first step of this process: the run's planned steps and the step it starts after (0, or the resumed step). */
    default void onStart(int totalSteps, int startStep) {}

    /** After every optimizer step. */
    default void onStep(StepMetrics m) {}

    /** After every evaluation. */
    default void onEval(EvalMetrics m) {}

    /** After a checkpoint is complete. */
    default void onCheckpoint(Path checkpoint, int step) {}

    /** A line for the user (resumed from, warnings); the trainer also logs it. */
    default void onNote(String message) {}

    /** After the adapter is written, with the run's summary. */
    default void onEnd(TrainSummary summary) {}
}
