package org.qoft4j.model;

import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.core.Tensors;

/** Autoregressive generation with a {@link KvCache}: one prefill pass over the prompt, then one token per step. */
public final class Generator {
    private Generator() {}

    /** Why generation ended. */
    public enum FinishReason { STOP_TOKEN, LENGTH }

    /** The new tokens (a stop token that ended generation is included last) and why it ended. */
    public record Result(long[] tokens, FinishReason finishReason) {}

    public static Result generate(LlamaModel m, long[] prompt, GenerationConfig g) {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt must have at least one token (e.g. BOS)");
        if (g.maxNewTokens() == 0) return new Result(new long[0], FinishReason.LENGTH);
        Sampler sampler = new Sampler(g.temperature(), g.topP(), g.seed());
        long[] out = new long[g.maxNewTokens()];
        int n = 0;
        FinishReason reason = FinishReason.LENGTH;
        try (NoGradGuard noGrad = new NoGradGuard();
             KvCache cache = new KvCache(m.config(), 1, prompt.length + g.maxNewTokens(), m.device(), m.dtype())) {
            long[] next = prompt;
            while (n < g.maxNewTokens()) {
                int token;
                try (PointerScope scope = new PointerScope()) {
                    Tensor logits = m.forward(Tensors.ofLongs(next, 1, next.length), cache); // [1, T, vocab]
                    token = sampler.next(Tensors.toFloats(logits.select(1, next.length - 1)));
                }
                out[n++] = token;
                if (g.stopTokens().contains((long) token)) {
                    reason = FinishReason.STOP_TOKEN;
                    break;
                }
                next = new long[] {token};
            }
        }
        return new Result(Arrays.copyOf(out, n), reason);
    }
}
