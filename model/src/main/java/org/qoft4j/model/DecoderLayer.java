package org.qoft4j.model;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.linear.DenseLinear;
import org.qoft4j.quant.linear.LinearLayer;

/**
 * One pre-norm decoder block: {@code h + attn(norm(h))}, then {@code h + mlp(norm(h))} with grouped-query
 * attention (RoPE, optional q/k norm) and a SwiGLU MLP. {@link #forward(Tensor, AttentionContext)} is a pure
 * function of its input, so the trainer can re-run one layer at a time.
 */
public final class DecoderLayer implements AutoCloseable {
    /** The seven projections, by their name inside a layer (Hugging Face module paths). */
    public static final List<String> PROJECTIONS = List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

    private final int index;
    private final LlamaConfig config;
    private final RmsNorm inputNorm;
    private final RmsNorm postAttentionNorm;
    private final RmsNorm qNorm; // Qwen3, else null
    private final RmsNorm kNorm;
    private final Map<String, Projection> projections; // short name -> slot, in PROJECTIONS order
    private final Projection q, k, v, o, gate, up, down;

    /** {@code linears} maps each name of {@link #PROJECTIONS} to its base layer. */
    DecoderLayer(int index, LlamaConfig config, RmsNorm inputNorm, RmsNorm postAttentionNorm, RmsNorm qNorm, RmsNorm kNorm,
                 Map<String, LinearLayer> linears) {
        this.index = index;
        this.config = config;
        this.inputNorm = inputNorm;
        this.postAttentionNorm = postAttentionNorm;
        this.qNorm = qNorm;
        this.kNorm = kNorm;
        Map<String, Projection> p = new LinkedHashMap<>();
        for (String name : PROJECTIONS) {
            LinearLayer l = linears.get(name);
            if (l == null) throw new IllegalArgumentException("layer " + index + " lacks " + name);
            p.put(name, new Projection(pathPrefix(index) + name, l));
        }
        this.projections = Collections.unmodifiableMap(p);
        q = p.get("self_attn.q_proj");
        k = p.get("self_attn.k_proj");
        v = p.get("self_attn.v_proj");
        o = p.get("self_attn.o_proj");
        gate = p.get("mlp.gate_proj");
        up = p.get("mlp.up_proj");
        down = p.get("mlp.down_proj");
    }

    /** {@code model.layers.{i}.} */
    public static String pathPrefix(int layer) {
        return "model.layers." + layer + ".";
    }

    public int index() {
        return index;
    }

    /** The projection slots by short name ({@code self_attn.q_proj}, ..., {@code mlp.down_proj}). */
    public Map<String, Projection> projections() {
        return projections;
    }

    public Projection projection(String shortName) {
        Projection p = projections.get(shortName);
        if (p == null) throw new IllegalArgumentException("no projection '" + shortName + "'; expected one of " + PROJECTIONS);
        return p;
    }

    public RmsNorm inputNorm() {
        return inputNorm;
    }

    public RmsNorm postAttentionNorm() {
        return postAttentionNorm;
    }

    /** {@code hidden [B, T, D]} -> {@code [B, T, D]}. */
    public Tensor forward(Tensor hidden, AttentionContext ctx) {
        return forward(hidden, ctx, null);
    }

    /** As {@link #forward(Tensor, AttentionContext)}, appending this pass's keys and values to {@code cache} when given. */
    public Tensor forward(Tensor hidden, AttentionContext ctx, KvCache cache) {
        long b = hidden.size(0), t = hidden.size(1);
        int hd = config.headDim();
        Tensor x = inputNorm.forward(hidden);
        Tensor qs = q.forward(x).view(b, t, config.numHeads(), hd);
        Tensor ks = k.forward(x).view(b, t, config.numKvHeads(), hd);
        Tensor vs = v.forward(x).view(b, t, config.numKvHeads(), hd).transpose(1, 2); // [B, KV, T, hd]
        if (qNorm != null) {
            qs = qNorm.forward(qs);
            ks = kNorm.forward(ks);
        }
        qs = RotaryEmbedding.apply(qs.transpose(1, 2), ctx.cos(), ctx.sin()); // [B, H, T, hd]
        ks = RotaryEmbedding.apply(ks.transpose(1, 2), ctx.cos(), ctx.sin()); // [B, KV, T, hd]
        if (cache != null) {
            Tensor[] kv = cache.append(index, ks, vs);
            ks = kv[0];
            vs = kv[1];
        }
        Tensor attn = attention(qs, ks, vs, ctx);
        attn = attn.transpose(1, 2).reshape(b, t, (long) config.numHeads() * hd);
        Tensor h = hidden.add(o.forward(attn));
        Tensor y = postAttentionNorm.forward(h);
        return h.add(down.forward(torch.silu(gate.forward(y)).mul(up.forward(y))));
    }

    /**
     * {@code q [B, H, T, hd]}, {@code k, v [B, KV, S, hd]} -> {@code [B, H, T, hd]}. On the CPU, bf16 / fp16 attention
     * runs in fp32 and is cast back: libtorch's CPU {@code scaled_dot_product_attention} is ~17x slower in bf16 than in
     * fp32 (docs/BENCHMARKS.md, Training), and fp32 is at least as accurate. On CUDA the fused bf16 kernels are used.
     */
    private Tensor attention(Tensor q, Tensor k, Tensor v, AttentionContext ctx) {
        ScalarType dt = q.scalar_type().intern(); // JavaCPP returns fresh enum objects: intern() before ==
        boolean upcast = !q.is_cuda() && (dt == ScalarType.BFloat16 || dt == ScalarType.Half);
        if (upcast) {
            q = q.to(ScalarType.Float);
            k = k.to(ScalarType.Float);
            v = v.to(ScalarType.Float);
        }
        Tensor attn = torch.scaled_dot_product_attention(q, k, v,
                ctx.mask() == null ? new TensorOptional() : new TensorOptional(ctx.mask()), 0.0, ctx.causal(), new DoubleOptional(),
                config.numKvHeads() != config.numHeads());
        return upcast ? attn.to(dt) : attn;
    }

    @Override
    public void close() {
        inputNorm.close();
        postAttentionNorm.close();
        if (qNorm != null) qNorm.close();
        if (kNorm != null) kNorm.close();
        for (Projection p : projections.values()) release(p.base());
    }

    /** Frees a base layer's native tensors (LinearLayer itself is not AutoCloseable; DenseLinear retains its tensors). */
    static void release(LinearLayer l) {
        if (l instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing " + l + " failed", e);
            }
        } else if (l instanceof DenseLinear d) {
            d.weight().releaseReference();
            if (d.bias() != null) d.bias().releaseReference();
        }
    }
}
