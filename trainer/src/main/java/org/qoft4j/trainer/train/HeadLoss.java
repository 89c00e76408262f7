package org.qoft4j.trainer.train;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.trainer.model.LlamaModel;

/**
 * The top of a training step: final norm, language-model head and next-token cross-entropy over the scored
 * positions, and the gradient of the loss with respect to the last hidden state. The head runs on chunks of
 * positions, each chunk's backward right after its forward, so only one chunk's fp32 logits {@code [chunk, vocab]}
 * exist at a time (a whole batch's logits would dwarf a small model's activations).
 */
final class HeadLoss {
    /** fp32 logits per chunk: 16 MiB. */
    static final long CHUNK_BYTES = 16L << 20;

    /**
     * @param nllSum     summed negative log-likelihood of the scored tokens (unscaled)
     * @param tokens     scored tokens
     * @param gradHidden {@code d(scale * nllSum) / d hidden}, {@code [B, T, D]} in hidden's dtype, zero at unscored positions
     */
    record Result(double nllSum, long tokens, Tensor gradHidden) {}

    private HeadLoss() {}

    /**
     * @param hidden the last decoder layer's output {@code [B, T, D]} (its history is not used)
     * @param labels {@code [B, T]} aligned with the inputs: position t is scored against {@code labels[t + 1]}
     * @param scale  the loss whose gradient is returned is {@code scale * nllSum} (1 / tokens of the whole step)
     */
    static Result lossAndGrad(LlamaModel m, Tensor hidden, Tensor labels, double scale) {
        long b = hidden.size(0), t = hidden.size(1), d = hidden.size(2);
        Tensor flat = hidden.detach().reshape(b * t, d);
        Tensor grad = torch.zeros_like(flat);
        // the target of position t is labels[t + 1]; the last position of each row has none
        Tensor next = torch.cat(new TensorVector(labels.narrow(1, 1, t - 1),
                torch.full(new long[] {b, 1}, new Scalar(LlamaModel.IGNORE_INDEX), new TensorOptions(ScalarType.Long))), 1)
                .to(m.device(), ScalarType.Long).reshape(b * t);
        Tensor idx = torch.nonzero(next.ne(new Scalar(LlamaModel.IGNORE_INDEX))).squeeze(1);
        long n = idx.size(0);
        if (n > 0) {
            Tensor targets = next.index_select(0, idx);
            long lo = targets.min().item_long(), hi = targets.max().item_long();
            if (lo < 0 || hi >= m.config().vocabSize())
                throw new IllegalArgumentException("label " + (lo < 0 ? lo : hi) + " is outside the vocabulary [0, " + m.config().vocabSize()
                        + ") and is not " + LlamaModel.IGNORE_INDEX);
        }
        long chunk = Math.max(1, CHUNK_BYTES / (4L * m.config().vocabSize()));
        double nll = 0;
        for (long start = 0; start < n; start += chunk) {
            try (PointerScope scope = new PointerScope()) {
                Tensor rows = idx.narrow(0, start, Math.min(chunk, n - start));
                Tensor x = flat.index_select(0, rows).set_requires_grad(true); // [chunk, D]
                Tensor logits = m.finalNormAndHead(x).to(ScalarType.Float); // [chunk, vocab]
                Tensor target = logits.gather(1, next.index_select(0, rows).unsqueeze(1)).squeeze(1);
                Tensor sum = logits.logsumexp(new long[] {1}, false).sub(target).sum();
                sum.mul(new Scalar(scale)).backward();
                grad.index_copy_(0, rows, x.grad());
                nll += sum.item_double();
            }
        }
        return new Result(nll, n, grad.reshape(b, t, d));
    }
}
