package org.qoft4j.model;

import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.HostReads;
import org.qoft4j.core.Tensors;

/**
 * The next-token loss — final norm, language-model head and cross-entropy over the scored positions — in its two
 * forms: {@link #value} (evaluation) and {@link #valueAndGrad} (training: the gradient with respect to the last
 * hidden state, which the layers below backpropagate). Labels are aligned with the inputs as in transformers:
 * position t is scored against {@code labels[t + 1]}; {@link LlamaModel#IGNORE_INDEX} is not scored.
 *
 * <p>Only scored positions go through the head, in chunks of {@link #CHUNK_BYTES} of fp32 logits, each chunk's
 * backward right after its forward: a whole batch's {@code [B*T, vocab]} logits would dwarf a small model's
 * activations. The sum stays on the device (a 0-dim fp32 tensor): reading it is the caller's one host sync.
 * Which positions are scored is decided on the host from the labels, so no device sync happens here.
 */
public final class NextTokenLoss {
    /** fp32 logits per chunk: 16 MiB. */
    public static final long CHUNK_BYTES = 16L << 20;

    /** The summed negative log-likelihood (0-dim fp32 on the model's device) of {@code tokens} scored tokens. */
    public record Sum(Tensor nll, long tokens) {
        /** Mean NLL in nats (reads the sum: a host sync), NaN without scored tokens. */
        public double mean() {
            return tokens == 0 ? Double.NaN : HostReads.scalar(nll) / tokens;
        }
    }

    /** {@link Sum} plus {@code d(scale * nll) / d hidden}, {@code [B, T, D]} in hidden's dtype, zero at unscored positions. */
    public record WithGrad(Tensor nll, long tokens, Tensor gradHidden) {}

    private NextTokenLoss() {}

    /**
     * The loss alone: evaluation runs it without grad; with grad on it is differentiable with respect to everything
     * that produced {@code hidden} (the test-data generator pretrains a whole model through it).
     *
     * @param hidden the last decoder layer's output {@code [B, T, D]}
     * @param labels {@code [B, T]} int64 on the CPU
     */
    public static Sum value(LlamaModel m, Tensor hidden, Tensor labels) {
        return value(m, hidden, labels, defaultChunk(m));
    }

    /** {@link #value} with {@code chunk} positions per head pass (tests check that chunking does not change the sum). */
    static Sum value(LlamaModel m, Tensor hidden, Tensor labels, long chunk) {
        Scored s = Scored.of(m, hidden, labels, chunk);
        Tensor sum = zero(m);
        Tensor flat = hidden.reshape(s.positions, hidden.size(2));
        for (long start = 0; start < s.count; start += s.chunk) {
            long len = Math.min(s.chunk, s.count - start);
            sum.add_(chunkNll(m, flat.index_select(0, s.rows.narrow(0, start, len)), s.targets.narrow(0, start, len)));
        }
        return new Sum(sum, s.count);
    }

    /**
     * @param hidden the last decoder layer's output {@code [B, T, D]} (its history is not used)
     * @param labels {@code [B, T]} int64 on the CPU
     * @param scale  the gradient returned is that of {@code scale * nll} (the trainer passes 1 / scored tokens of the step)
     */
    public static WithGrad valueAndGrad(LlamaModel m, Tensor hidden, Tensor labels, double scale) {
        return valueAndGrad(m, hidden, labels, scale, defaultChunk(m));
    }

    /** {@link #valueAndGrad(LlamaModel, Tensor, Tensor, double)} with the labels as the batch's host arrays {@code [B][T]} (no tensor read). */
    public static WithGrad valueAndGrad(LlamaModel m, Tensor hidden, long[][] labels, double scale) {
        return valueAndGrad(m, hidden, Scored.of(m, hidden, labels, defaultChunk(m)), scale);
    }

    static WithGrad valueAndGrad(LlamaModel m, Tensor hidden, Tensor labels, double scale, long chunk) {
        return valueAndGrad(m, hidden, Scored.of(m, hidden, labels, chunk), scale);
    }

    private static WithGrad valueAndGrad(LlamaModel m, Tensor hidden, Scored s, double scale) {
        Tensor flat = hidden.detach().reshape(s.positions, hidden.size(2));
        Tensor grad = torch.zeros_like(flat);
        Tensor sum = zero(m);
        for (long start = 0; start < s.count; start += s.chunk) {
            long len = Math.min(s.chunk, s.count - start);
            Tensor rows = s.rows.narrow(0, start, len);
            try (PointerScope scope = new PointerScope()) {
                Tensor x = flat.index_select(0, rows).set_requires_grad(true); // [chunk, D]
                Tensor nll = chunkNll(m, x, s.targets.narrow(0, start, len));
                nll.mul(new Scalar(scale)).backward();
                grad.index_copy_(0, rows, x.grad());
                sum.add_(nll.detach()); // in place: the running sum outlives this chunk's scope
            }
        }
        return new WithGrad(sum, s.count, grad.reshape(hidden.size(0), hidden.size(1), hidden.size(2)));
    }

    // sum over rows of logsumexp(logits) - logits[target]; logits in fp32 whatever the compute dtype
    private static Tensor chunkNll(LlamaModel m, Tensor x, Tensor targets) {
        Tensor logits = m.finalNormAndHead(x).to(ScalarType.Float); // [chunk, vocab]
        Tensor target = logits.gather(1, targets.unsqueeze(1)).squeeze(1);
        return logits.logsumexp(new long[] {1}, false).sub(target).sum();
    }

    private static long defaultChunk(LlamaModel m) {
        return Math.max(1, CHUNK_BYTES / (4L * m.config().vocabSize()));
    }

    private static Tensor zero(LlamaModel m) {
        return torch.zeros(new long[] {}, new TensorOptions(ScalarType.Float).device(new DeviceOptional(m.device())));
    }

    /**
     * The scored positions of a batch, found on the host: {@code rows} (flat indices into {@code [B*T]} whose next
     * label is scored) and {@code targets} (those labels), both int64 on the model's device.
     */
    private record Scored(Tensor rows, Tensor targets, long count, long positions, long chunk) {
        static Scored of(LlamaModel m, Tensor hidden, Tensor labels, long chunk) {
            if (labels.dim() != 2 || hidden.dim() != 3 || labels.size(0) != hidden.size(0) || labels.size(1) != hidden.size(1))
                throw new IllegalArgumentException("labels " + Arrays.toString(Tensors.shape(labels)) + " must match hidden "
                        + Arrays.toString(Tensors.shape(hidden)) + " in [batch, length]");
            long[] flat = Tensors.toLongs(labels.to(ScalarType.Long));
            int b = (int) labels.size(0), t = (int) labels.size(1);
            long[][] rows = new long[b][];
            for (int i = 0; i < b; i++) rows[i] = Arrays.copyOfRange(flat, i * t, (i + 1) * t);
            return of(m, hidden, rows, chunk);
        }

        static Scored of(LlamaModel m, Tensor hidden, long[][] y, long chunk) {
            int b = y.length, t = b == 0 ? 0 : y[0].length;
            if (hidden.dim() != 3 || b != hidden.size(0) || t != hidden.size(1))
                throw new IllegalArgumentException("labels [" + b + ", " + t + "] must match hidden " + Arrays.toString(Tensors.shape(hidden))
                        + " in [batch, length]");
            for (int i = 0; i < b; i++)
                if (y[i].length != t) throw new IllegalArgumentException("label rows must have equal lengths: row " + i + " has " + y[i].length + ", row 0 " + t);
            long[] rows = new long[b * t], targets = new long[b * t];
            int n = 0;
            long vocab = m.config().vocabSize();
            for (int i = 0; i < b; i++)
                for (int j = 0; j + 1 < t; j++) {
                    long next = y[i][j + 1];
                    if (next == LlamaModel.IGNORE_INDEX) continue;
                    if (next < 0 || next >= vocab)
                        throw new IllegalArgumentException("label " + next + " is outside the vocabulary [0, " + vocab + ") and is not "
                                + LlamaModel.IGNORE_INDEX);
                    rows[n] = (long) i * t + j;
                    targets[n++] = next;
                }
            return new Scored(Tensors.ofLongs(Arrays.copyOf(rows, n), n).to(m.device(), ScalarType.Long),
                    Tensors.ofLongs(Arrays.copyOf(targets, n), n).to(m.device(), ScalarType.Long), n, (long) b * t, chunk);
        }
    }
}
