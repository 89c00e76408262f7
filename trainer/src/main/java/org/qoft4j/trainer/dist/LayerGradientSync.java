package org.qoft4j.trainer.dist;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * Sums the adapter gradients of one optimizer step over the ranks of a {@link DataParallelGroup}, one decoder layer
 * at a time, as DDP's gradient buckets do.
 *
 * <p>With layer-wise recomputation the backward pass runs from the top layer down, and a layer's adapter gradients
 * are final as soon as that layer's backward of the step's <i>last</i> micro-batch ends (the layers below never touch
 * them). The backward pass then calls {@link #layerDone}, which launches that layer's all-reduce asynchronously (its
 * gradients flattened into buckets of at most the group's bucket size) so that it travels on Gloo's threads while the
 * next layer is recomputed. {@link #finish()} launches what was not launched yet (every layer when overlap is off, or
 * after plain autograd, whose gradients are all final only after the whole backward), waits for all of it and writes
 * the sums back into the gradients, before the trainer clips them and AdamW steps. Every rank launches the same
 * layers in the same order (top down), so the collectives match.
 *
 * <p>Sums, not means: the trainer scales each rank's loss by 1 / (scored tokens of the global step), so the sum over
 * ranks is the gradient of the mean over all tokens of the step.
 */
public final class LayerGradientSync implements AutoCloseable {
    private final DataParallelGroup group;
    private final List<List<Tensor>> paramsByLayer; // [layer] -> adapter tensors of that layer (empty: no adapter)
    private final boolean overlap;
    private final boolean[] launched;
    private final List<PendingAllReduce> pending = new ArrayList<>();
    private boolean armed;
    private long stepBytes, stepBlockedNanos, stepLaunchedDuringBackward;

    /**
     * @param paramsByLayer the adapter tensors of each decoder layer, by layer index; their {@code .grad} is reduced
     * @param overlap       launch a layer's all-reduce when its backward ends (true) or all of them after the backward
     */
    public LayerGradientSync(DataParallelGroup group, List<List<Tensor>> paramsByLayer, boolean overlap) {
        this.group = group;
        this.paramsByLayer = List.copyOf(paramsByLayer);
        this.overlap = overlap;
        this.launched = new boolean[paramsByLayer.size()];
    }

    /** Starts a step: nothing launched; layers report in {@link #layerDone} only once {@link #armLastMicroBatch} was called. */
    public void beginStep() {
        closePending();
        java.util.Arrays.fill(launched, false);
        armed = false;
        stepBytes = stepBlockedNanos = stepLaunchedDuringBackward = 0;
    }

    /** The micro-batch about to run is the step's last: from now on a finished layer's gradients are final. */
    public void armLastMicroBatch() {
        armed = true;
    }

    /** Layer {@code layer}'s backward just ended; launches its all-reduce when its gradients are final and overlap is on. */
    public void layerDone(int layer) {
        if (!armed || !overlap) return;
        if (launch(layer)) stepLaunchedDuringBackward++;
    }

    /** Launches the layers not launched yet (top down), waits for every all-reduce of the step and writes the sums back. */
    public void finish() {
        for (int i = launched.length - 1; i >= 0; i--) launch(i);
        long t0 = System.nanoTime();
        try {
            for (PendingAllReduce p : pending) p.await();
        } finally {
            stepBlockedNanos = System.nanoTime() - t0;
            closePending();
            armed = false;
        }
    }

    /** What the step's gradient all-reduce cost this rank. */
    public record StepStats(long bytes, long blockedNanos, long layersLaunchedDuringBackward) {}

    /** The last finished step's figures: bytes reduced, time {@link #finish()} waited (what the overlap did not hide). */
    public StepStats lastStep() {
        return new StepStats(stepBytes, stepBlockedNanos, stepLaunchedDuringBackward);
    }

    @Override
    public void close() {
        closePending();
    }

    private boolean launch(int layer) {
        if (layer < 0 || layer >= launched.length || launched[layer] || paramsByLayer.get(layer).isEmpty()) return false;
        launched[layer] = true;
        try (PointerScope scope = new PointerScope()) {
            List<Tensor> grads = new ArrayList<>();
            for (Tensor p : paramsByLayer.get(layer)) grads.add(p.grad());
            PendingAllReduce p = group.allReduceSumAsync(grads);  // holds its own references past this scope
            stepBytes += p.bytes();
            pending.add(p);
        }
        return true;
    }

    private void closePending() {
        for (PendingAllReduce p : pending) p.close();
        pending.clear();
    }
}
