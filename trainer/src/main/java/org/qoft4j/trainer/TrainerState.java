package org.qoft4j.trainer;

import org.qoft4j.data.DataCursor;

/**
 * Where a run stands after an optimizer step: what a checkpoint's {@code trainer_state.json} holds besides the
 * tensors. The scheduler has no state of its own: the learning rate is a function of {@code step}. The data
 * order is a function of (seed, epoch), so the cursor pins the next batch exactly.
 *
 * @param step         optimizer steps done (the scheduler step)
 * @param totalSteps   the run's planned steps (the schedule's length)
 * @param dataEpoch    the data loader's epoch
 * @param dataPosition batches of that epoch already consumed
 * @param tokensSeen   input tokens trained on so far
 * @param trainSeconds wall time spent in training steps so far
 * @param worldSize    processes of the data-parallel run that saved it (1 for one process; 0, read from a checkpoint
 *                     written before data parallelism, means 1): the data cursor counts global batches of
 *                     {@code worldSize * batch-size} rows
 */
public record TrainerState(int step, int totalSteps, int dataEpoch, int dataPosition, long tokensSeen, double trainSeconds, int worldSize) {
    /** The state of a single-process run. */
    public TrainerState(int step, int totalSteps, int dataEpoch, int dataPosition, long tokensSeen, double trainSeconds) {
        this(step, totalSteps, dataEpoch, dataPosition, tokensSeen, trainSeconds, 1);
    }

    /** This state as saved by a run of {@code n} processes. */
    public TrainerState withWorldSize(int n) {
        return new TrainerState(step, totalSteps, dataEpoch, dataPosition, tokensSeen, trainSeconds, n);
    }

    public DataCursor cursor() {
        return new DataCursor(dataEpoch, dataPosition);
    }
}
