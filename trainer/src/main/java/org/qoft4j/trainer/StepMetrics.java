package org.qoft4j.trainer;

/**
 * One optimizer step, as a line of {@code metrics.jsonl} ({@code "kind": "train"}).
 *
 * @param step                   1-based: the step just taken
 * @param loss                   mean next-token NLL over the step's scored tokens (all micro-batches)
 * @param lr                     learning rate used by this step
 * @param gradNorm               global gradient L2 norm before clipping
 * @param tokens                 input tokens (non-padding) in the step
 * @param scoredTokens           tokens the loss covers
 * @param tokensPerS             {@code tokens} / step wall time
 * @param stepSeconds            wall time of the step
 * @param rssBytes               resident memory after the step (VmRSS)
 * @param peakRssBytes           resident high-water mark so far (VmHWM)
 * @param cudaPeakBytes          CUDA allocator's peak allocated bytes (null when not on CUDA)
 * @param maxOrthogonalityError  largest {@code max|R^T R - I|} of the OFT layers (null for LoRA)
 * @param dataParallel           a data-parallel step's own figures (null for one process); {@code loss}, {@code tokens},
 *                               {@code scoredTokens} and {@code tokensPerS} are then over all ranks, the memory
 *                               figures this rank's
 */
public record StepMetrics(String kind, int step, double loss, double lr, double gradNorm, long tokens, long scoredTokens,
                          double tokensPerS, double stepSeconds, long rssBytes, long peakRssBytes, Long cudaPeakBytes,
                          Double maxOrthogonalityError, DataParallelMetrics dataParallel) {}
