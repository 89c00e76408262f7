package org.qoft4j.trainer;

/** The loss or the gradient norm became NaN or infinite; training stopped without saving the diverged state. */
public final class TrainingDivergedException extends RuntimeException {
    private final int step;

    public TrainingDivergedException(int step, String message) {
        super(message);
        this.step = step;
    }

    /** The 1-based step whose loss or gradient was not finite. */
    public int step() {
        return step;
    }
}
