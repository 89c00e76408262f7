package org.qoft4j.trainer.eval;

import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.HostReads;
import org.qoft4j.data.Batch;
import org.qoft4j.data.DataLoader;
import org.qoft4j.data.Sample;
import org.qoft4j.model.AttentionContext;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.NextTokenLoss;

/** Mean next-token negative log-likelihood of a model over samples (each sample once, in order). */
public final class Evaluator {
    private Evaluator() {}

    /**
     * @param loss       mean NLL (nats) over scored tokens
     * @param perplexity {@code exp(loss)}
     * @param tokens     scored tokens
     * @param truncated  samples cut to the sequence length (their tail is not scored)
     */
    public record Result(double loss, double perplexity, long tokens, int samples, int batches, int truncated) {}

    public static Result evaluate(LlamaModel m, List<Sample> samples, int seqLen, int batchSize, boolean packing) {
        return sums(m, samples, seqLen, batchSize, packing).result();
    }

    /**
     * What an evaluation adds up, before the mean: summed NLL and scored tokens (so that several processes, each over
     * its share of the samples, can combine theirs exactly).
     */
    public record Sums(double nllSum, long tokens, int samples, int batches, int truncated) {
        /** The mean over the scored tokens; an error when there are none. */
        public Result result() {
            if (tokens == 0) throw new IllegalArgumentException("no scored tokens to evaluate (every label is -100)");
            double loss = nllSum / tokens;
            return new Result(loss, Math.exp(loss), tokens, samples, batches, truncated);
        }
    }

    /** The sums over {@code samples} (each once, in order); zeros for none. */
    public static Sums sums(LlamaModel m, List<Sample> samples, int seqLen, int batchSize, boolean packing) {
        if (samples.isEmpty()) return new Sums(0, 0, 0, 0, 0);
        DataLoader loader = new DataLoader(samples, seqLen, batchSize, packing, false, 0, 0);
        Tensor sum = torch.zeros(new long[] {}, new TensorOptions(ScalarType.Double).device(new DeviceOptional(m.device()))); // read once, at the end
        long tokens = 0;
        int batches = 0;
        try (NoGradGuard noGrad = new NoGradGuard()) {
            while (loader.hasNextInEpoch()) {
                Batch b = loader.next();
                try (PointerScope scope = new PointerScope()) {
                    AttentionContext ctx = m.packedContext(b.positionIdsTensor(), b.sequenceIdsTensor());
                    Tensor h = m.hidden(b.inputIdsTensor(), ctx);
                    NextTokenLoss.Sum s = NextTokenLoss.value(m, h, b.labelsTensor());
                    sum.add_(s.nll().to(ScalarType.Double));
                    tokens += s.tokens();
                }
                batches++;
            }
        }
        return new Sums(HostReads.scalar(sum), tokens, samples.size(), batches, loader.truncated());
    }
}
