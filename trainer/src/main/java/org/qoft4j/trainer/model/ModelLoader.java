package org.qoft4j.trainer.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.linear.DenseLinear;
import org.qoft4j.quant.linear.LinearLayer;

/**
 * Builds a {@link LlamaModel} from named tensors, one tensor at a time: each is read, moved to the device,
 * converted (or quantized, for linear layers) and released before the next, so the full-precision model is
 * never resident. Every tensor's presence and shape are checked before anything is read.
 */
public final class ModelLoader {
    private ModelLoader() {}

    /** Makes the frozen layer for one linear module (e.g. {@code model.layers.0.mlp.up_proj}). */
    @FunctionalInterface
    public interface LinearFactory {
        LinearLayer create(String module, long outFeatures, long inFeatures, boolean bias);
    }

    /** Assembles a model whose tensors (Hugging Face names) come from {@code source}. */
    public static LlamaModel build(LlamaConfig c, TensorSource source, LoadOptions o) {
        checkTensors(c, source);
        return build(c, source, o, (module, out, in, bias) -> denseOrQuantized(source, module, bias, o));
    }

    /** As {@link #build(LlamaConfig, TensorSource, LoadOptions)} with the linear layers made by {@code linears}. */
    static LlamaModel build(LlamaConfig c, TensorSource source, LoadOptions o, LinearFactory linears) {
        List<AutoCloseable> built = new ArrayList<>(); // closed if a later tensor fails
        try {
            Tensor embedding = dense(source, "model.embed_tokens.weight", o);
            built.add(embedding::releaseReference);
            List<DecoderLayer> layers = new ArrayList<>();
            for (int i = 0; i < c.numLayers(); i++) {
                String p = DecoderLayer.pathPrefix(i);
                RmsNorm in = norm(source, p + "input_layernorm.weight", c, o);
                built.add(in);
                RmsNorm post = norm(source, p + "post_attention_layernorm.weight", c, o);
                built.add(post);
                RmsNorm qn = c.qkNorm() ? norm(source, p + "self_attn.q_norm.weight", c, o) : null;
                RmsNorm kn = c.qkNorm() ? norm(source, p + "self_attn.k_norm.weight", c, o) : null;
                if (qn != null) {
                    built.add(qn);
                    built.add(kn);
                }
                Map<String, LinearLayer> lin = new LinkedHashMap<>();
                for (String name : DecoderLayer.PROJECTIONS) {
                    long[] shape = projectionShape(c, name);
                    LinearLayer l = linears.create(p + name, shape[0], shape[1], projectionBias(c, name));
                    lin.put(name, l);
                    built.add(() -> DecoderLayer.release(l));
                }
                // the norms and linears now belong to the layer
                layers.add(new DecoderLayer(i, c, in, post, qn, kn, lin));
            }
            RmsNorm norm = norm(source, "model.norm.weight", c, o);
            built.add(norm);
            Tensor headWeight = c.tieWordEmbeddings() ? embedding : dense(source, "lm_head.weight", o);
            LinearLayer head = new DenseLinear(headWeight, null); // holds its own reference (shared storage when tied)
            if (headWeight != embedding) headWeight.releaseReference();
            LlamaModel m = new LlamaModel(c, embedding, layers, norm, head, o.device(), o.dtype());
            embedding.releaseReference(); // the model and the tied head hold their own references
            return m;
        } catch (RuntimeException e) {
            for (int i = built.size() - 1; i >= 0; i--) {
                try {
                    built.get(i).close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /** The expected shape of every tensor a model of config {@code c} needs, by Hugging Face name. */
    public static Map<String, long[]> expectedTensors(LlamaConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long d = c.hiddenSize();
        m.put("model.embed_tokens.weight", new long[] {c.vocabSize(), d});
        for (int i = 0; i < c.numLayers(); i++) {
            String p = DecoderLayer.pathPrefix(i);
            m.put(p + "input_layernorm.weight", new long[] {d});
            m.put(p + "post_attention_layernorm.weight", new long[] {d});
            if (c.qkNorm()) {
                m.put(p + "self_attn.q_norm.weight", new long[] {c.headDim()});
                m.put(p + "self_attn.k_norm.weight", new long[] {c.headDim()});
            }
            for (String name : DecoderLayer.PROJECTIONS) {
                long[] shape = projectionShape(c, name);
                m.put(p + name + ".weight", shape);
                if (projectionBias(c, name)) m.put(p + name + ".bias", new long[] {shape[0]});
            }
        }
        m.put("model.norm.weight", new long[] {d});
        if (!c.tieWordEmbeddings()) m.put("lm_head.weight", new long[] {c.vocabSize(), d});
        return m;
    }

    /** {@code [out, in]} of one of {@link DecoderLayer#PROJECTIONS}. */
    static long[] projectionShape(LlamaConfig c, String name) {
        long d = c.hiddenSize(), q = (long) c.numHeads() * c.headDim(), kv = (long) c.numKvHeads() * c.headDim(), f = c.intermediateSize();
        switch (name) {
            case "self_attn.q_proj": return new long[] {q, d};
            case "self_attn.k_proj": case "self_attn.v_proj": return new long[] {kv, d};
            case "self_attn.o_proj": return new long[] {d, q};
            case "mlp.gate_proj": case "mlp.up_proj": return new long[] {f, d};
            case "mlp.down_proj": return new long[] {d, f};
            default: throw new IllegalArgumentException("not a projection: " + name);
        }
    }

    static boolean projectionBias(LlamaConfig c, String name) {
        if (name.startsWith("mlp.")) return c.mlpBias();
        return name.equals("self_attn.o_proj") ? c.outputBias() : c.qkvBias();
    }

    /** Fails on the first missing or misshapen tensor, naming it, before anything is loaded. */
    static void checkTensors(LlamaConfig c, TensorSource s) {
        for (Map.Entry<String, long[]> e : expectedTensors(c).entrySet()) checkTensor(s, e.getKey(), e.getValue());
    }

    static void checkTensor(TensorSource s, String name, long[] expected) {
        if (!s.contains(name))
            throw new ModelFormatException(s.describe() + ": missing tensor " + name + " (expected shape " + TensorSource.shapeString(expected) + ")");
        long[] actual = s.shape(name);
        if (!Arrays.equals(actual, expected))
            throw new ModelFormatException(s.describe() + ": tensor " + name + " has shape " + TensorSource.shapeString(actual)
                    + ", expected " + TensorSource.shapeString(expected));
    }

    private static LinearLayer denseOrQuantized(TensorSource s, String module, boolean bias, LoadOptions o) {
        try (PointerScope scope = new PointerScope()) {
            Tensor w = floating(s, module + ".weight").to(o.device(), o.quant() == null ? o.dtype() : ScalarType.Float);
            Tensor b = bias ? floating(s, module + ".bias").to(o.device(), o.dtype()) : null;
            if (o.quant() == null) return new DenseLinear(w, b);
            throw new ModelFormatException(module + ": quantize-on-load needs org.qoft4j.quant.linear.QuantizedLinear");
        }
    }

    /** A full-precision tensor on the device in the compute dtype, retained (caller releases). */
    private static Tensor dense(TensorSource s, String name, LoadOptions o) {
        try (PointerScope scope = new PointerScope()) {
            return floating(s, name).to(o.device(), o.dtype()).retainReference();
        }
    }

    private static RmsNorm norm(TensorSource s, String name, LlamaConfig c, LoadOptions o) {
        try (PointerScope scope = new PointerScope()) {
            return new RmsNorm(floating(s, name).to(o.device(), o.dtype()), c.rmsNormEps());
        }
    }

    private static Tensor floating(TensorSource s, String name) {
        Tensor t = s.load(name);
        ScalarType st = t.scalar_type().intern(); // JavaCPP returns a fresh enum instance: intern() before comparing
        if (st != ScalarType.Float && st != ScalarType.BFloat16 && st != ScalarType.Half && st != ScalarType.Double)
            throw new ModelFormatException(s.describe() + ": tensor " + name + " is " + st + ", expected a floating-point dtype"
                    + (st == ScalarType.Byte ? " (a 4-bit checkpoint needs quantization_config in config.json)" : ""));
        return t;
    }
}
