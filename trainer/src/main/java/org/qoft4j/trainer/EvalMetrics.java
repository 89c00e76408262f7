package org.qoft4j.trainer;

/**
 * An evaluation, as a line of {@code metrics.jsonl} ({@code "kind": "eval"}).
 *
 * @param step        optimizer steps done when it ran
 * @param evalLoss    mean next-token NLL over the eval split's scored tokens
 * @param perplexity  {@code exp(evalLoss)}
 * @param tokens      scored tokens
 * @param seconds     wall time of the evaluation
 */
public record EvalMetrics(String kind, int step, double evalLoss, double perplexity, long tokens, double seconds) {}
