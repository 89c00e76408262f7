package org.qoft4j.model;

import org.qoft4j.core.OpenMp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.linear.DenseLinear;
import org.qoft4j.quant.linear.LinearLayer;
import org.qoft4j.quant.linear.QuantizedLinear;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.hf.BnbCheckpointCodec;
import org.qoft4j.quant.hf.QuantizationConfig;
import org.qoft4j.core.safetensors.HfCheckpoint;
import org.qoft4j.core.memory.NativeMemory;

/**
 * Builds a {@link LlamaModel} from named tensors, one tensor at a time: each is read, moved to the device,
 * converted (or quantized, for linear layers) and released before the next, so the full-precision model is
 * never resident. Every tensor's presence and shape are checked before anything is read.
 */
public final class ModelLoader {
    static {
        OpenMp.preferPassiveWaiting(); // before libtorch loads: libgomp reads it once
    }

    private ModelLoader() {}

    /** Makes the frozen layer for one linear module (e.g. {@code model.layers.0.mlp.up_proj}). */
    @FunctionalInterface
    public interface LinearFactory {
        LinearLayer create(String module, long outFeatures, long inFeatures, boolean bias);
    }

    /** Assembles a model whose tensors (Hugging Face names) come from {@code source}. */
    public static LlamaModel build(LlamaConfig c, TensorSource source, LoadOptions o) {
        checkTensors(c, source, module -> false);
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
                    if (o.quant() != null || l instanceof QuantizedLinear) NativeMemory.releaseFreed(); // see there
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

    /**
     * Fails on the first missing or misshapen tensor, naming it, before anything is loaded. The weights of modules
     * that are {@code stored4bit} are checked when read (their stored shapes are the packed ones).
     */
    static void checkTensors(LlamaConfig c, TensorSource s, Predicate<String> stored4bit) {
        for (Map.Entry<String, long[]> e : expectedTensors(c).entrySet()) {
            String name = e.getKey();
            if (name.endsWith(".weight") && stored4bit.test(name.substring(0, name.length() - ".weight".length()))) continue;
            checkTensor(s, name, e.getValue());
        }
    }

    static void checkTensor(TensorSource s, String name, long[] expected) {
        if (!s.contains(name))
            throw new ModelFormatException(s.describe() + ": missing tensor " + name + " (expected shape " + TensorSource.shapeString(expected) + ")");
        long[] actual = s.shape(name);
        if (!Arrays.equals(actual, expected))
            throw new ModelFormatException(s.describe() + ": tensor " + name + " has shape " + TensorSource.shapeString(actual)
                    + ", expected " + TensorSource.shapeString(expected));
    }

    /**
     * One linear layer: kept in the compute dtype, or quantized from its stored dtype (bf16/fp16/fp32, as
     * bitsandbytes records it) right after it is read; the full-precision tensor dies with the scope.
     */
    private static LinearLayer denseOrQuantized(TensorSource s, String module, boolean bias, LoadOptions o) {
        try (PointerScope scope = new PointerScope()) {
            Tensor w = floating(s, module + ".weight");
            Tensor b = bias ? floating(s, module + ".bias").to(o.device(), o.dtype()) : null;
            if (o.quant() == null) return new DenseLinear(w.to(o.device(), o.dtype()), b);
            ScalarType stored = w.scalar_type().intern();
            w = w.to(o.device(), stored == ScalarType.Double ? ScalarType.Float : stored);
            try {
                return QuantizedLinear.quantize(w, b, o.quant());
            } catch (IllegalArgumentException e) {
                throw new ModelFormatException(s.describe() + ": cannot quantize " + module + ".weight: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Loads a Hugging Face model directory: {@code config.json} plus {@code model.safetensors} or the shards of
     * {@code model.safetensors.index.json}.
     */
    public static LlamaModel load(Path dir, LoadOptions o) {
        if (!Files.isDirectory(dir)) throw new ModelFormatException(dir + ": not a model directory");
        LlamaConfig c = LlamaConfig.read(dir);
        QuantizationConfig qc = HfConfigs.quantizationConfig(dir);
        try (HfCheckpoint ckpt = HfCheckpoint.open(dir)) {
            HfTensorSource src = new HfTensorSource(ckpt);
            if (qc == null) return build(c, src, o);
            // An already-quantized checkpoint: its 4-bit layers are adopted as stored, the rest stay as the checkpoint keeps them.
            LoadOptions dense = o.withQuant(null);
            checkTensors(c, src, module -> BnbCheckpointCodec.detect(ckpt, module).isPresent());
            return build(c, src, o, (module, out, in, bias) -> BnbCheckpointCodec.detect(ckpt, module).isPresent()
                    ? adopt(ckpt, src, module, out, in, bias, o)
                    : denseOrQuantized(src, module, bias, dense));
        }
    }

    /** A 4-bit layer read from a bitsandbytes / GPTQ checkpoint, checked against the config's shape and moved to the device. */
    private static LinearLayer adopt(HfCheckpoint ckpt, TensorSource src, String module, long out, long in, boolean bias, LoadOptions o) {
        QuantizedWeight w = BnbCheckpointCodec.read(ckpt, module);
        try (PointerScope scope = new PointerScope()) {
            if (w.rows() != out || w.cols() != in)
                throw new ModelFormatException(ckpt.dir() + ": quantized layer " + module + " is [" + w.rows() + ", " + w.cols() + "], expected ["
                        + out + ", " + in + "]");
            if (w.device().is_cuda() != o.device().is_cuda()) {  // Device("cuda") has index -1, a tensor's cuda:0
                QuantizedWeight moved = w.to(o.device());
                w.close();
                w = moved;
            }
            Tensor b = bias ? floating(src, module + ".bias").to(o.device(), o.dtype()) : null;
            return new QuantizedLinear(w, b);
        } catch (RuntimeException e) {
            w.close();
            throw e;
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
