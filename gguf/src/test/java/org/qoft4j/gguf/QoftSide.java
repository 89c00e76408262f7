package org.qoft4j.gguf;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.model.AdapterSet;
import org.qoft4j.core.Tensors;
import org.qoft4j.model.GenerationConfig;
import org.qoft4j.model.Generator;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;

/** What qoft4j computes for the same tokens, for comparing with llama.cpp: as {@code generate} and {@code eval} do, fp32 on the CPU. */
final class QoftSide implements AutoCloseable {
    final LlamaModel model;
    private final AdapterSet adapter;

    private QoftSide(LlamaModel model, AdapterSet adapter) {
        this.model = model;
        this.adapter = adapter;
    }

    /** The model directory in fp32 (no quantization), with the adapter attached when given — what {@code generate --adapter} runs. */
    static QoftSide load(Path modelDir, Path adapterDir) {
        LlamaModel m = ModelLoader.load(modelDir, LoadOptions.cpu());
        AdapterSet a = adapterDir == null ? null : AdapterSet.open(m, adapterDir); // eval mode, as generate --adapter
        return new QoftSide(m, a);
    }

    static QoftSide of(LlamaModel m) {
        return new QoftSide(m, null);
    }

    /** Greedy continuation (stop token kept), as {@code generate --temperature 0}. */
    long[] greedy(long[] prompt, int maxNewTokens, Set<Long> stop) {
        return Generator.generate(model, prompt, GenerationConfig.greedy(maxNewTokens, stop)).tokens();
    }

    /** log-softmax of the logits after every token: [T][vocab], in double. */
    double[][] logSoftmax(long[] tokens) {
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            Tensor logits = model.forward(Tensors.ofLongs(tokens, 1, tokens.length)).to(ScalarType.Double); // [1, T, V]
            Tensor lp = torch.log_softmax(logits, 2).squeeze(0).contiguous();                              // [T, V]
            double[] flat = Tensors.toDoubles(lp);
            int v = (int) lp.size(1);
            double[][] out = new double[tokens.length][v];
            for (int i = 0; i < tokens.length; i++) System.arraycopy(flat, i * v, out[i], 0, v);
            return out;
        }
    }

    /** log p(tokens[i+1] | tokens[..i]) for i = 0 .. T-2. */
    double[] nextTokenLogprobs(long[] tokens) {
        double[][] lp = logSoftmax(tokens);
        double[] out = new double[tokens.length - 1];
        for (int i = 0; i + 1 < tokens.length; i++) out[i] = lp[i][(int) tokens[i + 1]];
        return out;
    }

    @Override
    public void close() {
        if (adapter != null) adapter.close();
        model.close();
    }

    static double meanAbsDiff(List<double[]> a, List<double[]> b) {
        double sum = 0;
        long n = 0;
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i).length != b.get(i).length) throw new AssertionError("sequence " + i + ": " + a.get(i).length + " vs " + b.get(i).length + " values");
            for (int j = 0; j < a.get(i).length; j++) {
                sum += Math.abs(a.get(i)[j] - b.get(i)[j]);
                n++;
            }
        }
        return sum / n;
    }
}
