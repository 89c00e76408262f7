package org.qoft4j.trainer;

import java.util.List;

/**
 * A data-parallel step's own figures, in its {@code metrics.jsonl} line ({@code "data_parallel": {...}}; absent in a
 * single-process run). The step's {@code tokens}, {@code scored_tokens}, {@code tokens_per_s} and {@code loss} are
 * already global (all ranks).
 *
 * @param worldSize                 processes in the run
 * @param rankPeakBytes             each rank's memory high-water mark, by rank: the CUDA allocator's peak on a GPU,
 *                                  else the resident peak (VmHWM)
 * @param allReduceBytes            bytes of adapter gradients this rank all-reduced in the step (the flattened
 *                                  gradients, once)
 * @param allReduceWaitSeconds      time rank 0 waited for the gradient all-reduce after its backward: the part of the
 *                                  communication that overlapping it with the backward did not hide
 * @param layersOverlapped          decoder layers whose all-reduce was launched during the backward (0 with
 *                                  {@code dist-overlap=false} or {@code --no-recompute})
 */
public record DataParallelMetrics(int worldSize, List<Long> rankPeakBytes, long allReduceBytes, double allReduceWaitSeconds,
                                  long layersOverlapped) {
    public DataParallelMetrics {
        rankPeakBytes = List.copyOf(rankPeakBytes);
    }
}
