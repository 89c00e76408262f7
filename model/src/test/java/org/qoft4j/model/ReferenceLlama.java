package org.qoft4j.model;

import java.util.Map;

/**
 * An independent Llama-family forward pass in double precision, written from the definitions with plain
 * loops (no libtorch): RMSNorm, grouped-query causal attention with RoPE, SwiGLU. It reads weights by their
 * Hugging Face names as row-major {@code double[]}. {@code interleavedRope} selects llama2.c's pairing
 * (2i, 2i+1) instead of Hugging Face's (i, i + d/2).
 */
final class ReferenceLlama {
    final int dim, hidden, layers, heads, kvHeads, headDim, vocab;
    final double eps;
    final double[] invFreq;
    final boolean qkvBias, outBias, mlpBias, qkNorm, tied, interleavedRope;
    final Map<String, double[]> w;
    /** Sliding attention window (0 = unlimited): query i sees keys i-window+1 .. i. */
    int window;

    ReferenceLlama(int dim, int hidden, int layers, int heads, int kvHeads, int headDim, int vocab, double eps, double[] invFreq,
                   boolean qkvBias, boolean outBias, boolean mlpBias, boolean qkNorm, boolean tied, boolean interleavedRope, Map<String, double[]> w) {
        this.dim = dim;
        this.hidden = hidden;
        this.layers = layers;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.vocab = vocab;
        this.eps = eps;
        this.invFreq = invFreq;
        this.qkvBias = qkvBias;
        this.outBias = outBias;
        this.mlpBias = mlpBias;
        this.qkNorm = qkNorm;
        this.tied = tied;
        this.interleavedRope = interleavedRope;
        this.w = w;
    }

    /** Unscaled RoPE inverse frequencies: theta^(-2i/d). */
    static double[] plainInvFreq(int headDim, double theta) {
        double[] f = new double[headDim / 2];
        for (int i = 0; i < f.length; i++) f[i] = Math.pow(theta, -2.0 * i / headDim);
        return f;
    }

    /** Logits [T][vocab] for one sequence at positions 0..T-1. */
    double[][] forward(long[] ids) {
        int t = ids.length;
        double[] emb = get("model.embed_tokens.weight");
        double[][] x = new double[t][dim];
        for (int i = 0; i < t; i++) System.arraycopy(emb, (int) ids[i] * dim, x[i], 0, dim);
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            double[][] q = new double[t][], k = new double[t][], v = new double[t][];
            for (int i = 0; i < t; i++) {
                double[] xn = rmsNorm(x[i], get(p + "input_layernorm.weight"));
                q[i] = linear(p + "self_attn.q_proj", xn, qkvBias);
                k[i] = linear(p + "self_attn.k_proj", xn, qkvBias);
                v[i] = linear(p + "self_attn.v_proj", xn, qkvBias);
                if (qkNorm) {
                    headNorm(q[i], heads, get(p + "self_attn.q_norm.weight"));
                    headNorm(k[i], kvHeads, get(p + "self_attn.k_norm.weight"));
                }
                rope(q[i], heads, i);
                rope(k[i], kvHeads, i);
            }
            int group = heads / kvHeads;
            for (int i = 0; i < t; i++) {
                double[] att = new double[heads * headDim];
                for (int h = 0; h < heads; h++) {
                    int kh = h / group;
                    double[] s = new double[i + 1];
                    int first = window > 0 ? Math.max(0, i - window + 1) : 0;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = first; j <= i; j++) {
                        double dot = 0;
                        for (int d = 0; d < headDim; d++) dot += q[i][h * headDim + d] * k[j][kh * headDim + d];
                        s[j] = dot / Math.sqrt(headDim);
                        max = Math.max(max, s[j]);
                    }
                    double z = 0;
                    for (int j = first; j <= i; j++) z += s[j] = Math.exp(s[j] - max);
                    for (int j = first; j <= i; j++)
                        for (int d = 0; d < headDim; d++) att[h * headDim + d] += s[j] / z * v[j][kh * headDim + d];
                }
                double[] o = linear(p + "self_attn.o_proj", att, outBias);
                for (int d = 0; d < dim; d++) x[i][d] += o[d];
                double[] xn = rmsNorm(x[i], get(p + "post_attention_layernorm.weight"));
                double[] g = linear(p + "mlp.gate_proj", xn, mlpBias), u = linear(p + "mlp.up_proj", xn, mlpBias);
                double[] a = new double[hidden];
                for (int j = 0; j < hidden; j++) a[j] = g[j] / (1 + Math.exp(-g[j])) * u[j];
                double[] dn = linear(p + "mlp.down_proj", a, mlpBias);
                for (int d = 0; d < dim; d++) x[i][d] += dn[d];
            }
        }
        double[] head = get(tied ? "model.embed_tokens.weight" : "lm_head.weight");
        double[][] logits = new double[t][];
        for (int i = 0; i < t; i++) logits[i] = matVec(head, vocab, dim, rmsNorm(x[i], get("model.norm.weight")));
        return logits;
    }

    private double[] get(String name) {
        double[] a = w.get(name);
        if (a == null) throw new IllegalArgumentException("reference lacks " + name);
        return a;
    }

    private double[] linear(String module, double[] x, boolean bias) {
        double[] wt = get(module + ".weight");
        int out = wt.length / x.length;
        double[] y = matVec(wt, out, x.length, x);
        if (bias) {
            double[] b = get(module + ".bias");
            for (int i = 0; i < out; i++) y[i] += b[i];
        }
        return y;
    }

    private static double[] matVec(double[] wt, int rows, int cols, double[] x) {
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < cols; c++) s += wt[r * cols + c] * x[c];
            y[r] = s;
        }
        return y;
    }

    private double[] rmsNorm(double[] x, double[] g) {
        double ms = 0;
        for (double a : x) ms += a * a;
        double inv = 1 / Math.sqrt(ms / x.length + eps);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] * inv * g[i];
        return y;
    }

    private void headNorm(double[] x, int n, double[] g) {
        for (int h = 0; h < n; h++) {
            double[] part = java.util.Arrays.copyOfRange(x, h * headDim, (h + 1) * headDim);
            System.arraycopy(rmsNorm(part, g), 0, x, h * headDim, headDim);
        }
    }

    private void rope(double[] x, int n, int pos) {
        int half = headDim / 2;
        for (int h = 0; h < n; h++) {
            int base = h * headDim;
            for (int i = 0; i < half; i++) {
                int a = interleavedRope ? base + 2 * i : base + i;
                int b = interleavedRope ? base + 2 * i + 1 : base + i + half;
                double c = Math.cos(pos * invFreq[i]), s = Math.sin(pos * invFreq[i]);
                double x0 = x[a], x1 = x[b];
                x[a] = x0 * c - x1 * s;
                x[b] = x0 * s + x1 * c;
            }
        }
    }
}
