package org.qoft4j.gguf;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.qoft4j.quant.kernel.Kernels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.adapters.Merge;
import org.qoft4j.adapters.peft.PeftAdapter;
import org.qoft4j.adapters.peft.PeftAdapterIO;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.hf.BnbCheckpointCodec;
import org.qoft4j.quant.hf.QuantizationConfig;
import org.qoft4j.quant.linear.LinearLayer;
import org.qoft4j.quant.linear.QuantizedLinear;
import org.qoft4j.core.safetensors.HfCheckpoint;
import org.qoft4j.model.DecoderLayer;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.model.ModelLoader;

/**
 * The float32 tensors of an export, by Hugging Face name, read one at a time: from the checkpoint, with an adapter
 * folded into the projections it adapts as {@code merge} does ({@link Merge#mergedWeight}: OFT {@code W R^T}, LoRA
 * {@code W + (alpha/r) B A}). What the adapter is folded into:
 * <ul>
 *   <li>a full-precision checkpoint: its original weights (default), or, with {@code requantize}, the weights after
 *       the 4-bit quantization the adapter was trained on and back (reproduces the adapter-on-4-bit model exactly);</li>
 *   <li>a 4-bit checkpoint (bitsandbytes / GPTQ, as made by {@code quantize}): the dequantized 4-bit weights, the
 *       only ones it has.</li>
 * </ul>
 * Each projection's base weight is read only when that tensor is written (adapters need only the shapes to be
 * built), so memory holds one tensor at a time besides the adapter.
 */
final class ExportTensors implements AutoCloseable {
    private final HfCheckpoint ckpt;
    private final Map<String, long[]> shapes;
    private final Map<String, LazyBase> bases = new LinkedHashMap<>();
    private final PeftAdapter adapter;
    private final String mergeDescription;

    private ExportTensors(HfCheckpoint ckpt, Map<String, long[]> shapes, PeftAdapter adapter, String mergeDescription) {
        this.ckpt = ckpt;
        this.shapes = shapes;
        this.adapter = adapter;
        this.mergeDescription = mergeDescription;
    }

    /**
     * @param adapterDir a PEFT adapter directory, or null
     * @param requantize null, or the 4-bit format to round-trip the base weights through before merging
     */
    static ExportTensors open(Path modelDir, LlamaConfig c, Path adapterDir, QuantSpec requantize) {
        HfCheckpoint ckpt = HfCheckpoint.open(modelDir);
        try {
            QuantizationConfig qc = QuantizationConfig.fromModelConfig(ckpt.config());
            Map<String, long[]> shapes = ModelLoader.expectedTensors(c);
            int stored4bit = 0, projections = 0;
            Map<String, LazyBase> bases = new LinkedHashMap<>();
            for (int i = 0; i < c.numLayers(); i++)
                for (String p : DecoderLayer.PROJECTIONS) {
                    String module = DecoderLayer.pathPrefix(i) + p;
                    boolean q4 = qc != null && BnbCheckpointCodec.detect(ckpt, module).isPresent();
                    long[] shape = shapes.get(module + ".weight");
                    if (!q4) check(ckpt, module + ".weight", shape);
                    bases.put(module, new LazyBase(ckpt, module, shape, q4, q4 ? null : requantize));
                    projections++;
                    if (q4) stored4bit++;
                }
            for (Map.Entry<String, long[]> e : shapes.entrySet()) {
                String n = e.getKey();
                if (n.endsWith(".weight") && bases.containsKey(n.substring(0, n.length() - 7))) continue;
                check(ckpt, n, e.getValue());
            }
            if (requantize != null && stored4bit > 0)
                throw new IllegalArgumentException(modelDir + " is already a 4-bit checkpoint (" + qc.type().lowerName() + "): its projections are merged "
                        + "into their dequantized 4-bit weights; --quant applies only to full-precision checkpoints");
            PeftAdapter a = null;
            String desc;
            if (adapterDir != null) {
                a = PeftAdapterIO.read(adapterDir, bases, null);
                if (a.layers().isEmpty())
                    throw new IllegalArgumentException(adapterDir + ": the adapter targets none of the model's linear layers (wrong base model?)");
                String base = stored4bit == projections ? "the dequantized 4-bit (" + qc.type().lowerName() + ") weights of " + modelDir + " (it has no full-precision copy)"
                        : stored4bit > 0 ? "the weights of " + modelDir + " (" + stored4bit + " of " + projections + " projections dequantized from 4-bit)"
                        : requantize != null ? "the " + requantize.type().lowerName() + "-quantized and dequantized weights of " + modelDir
                        + " (as the adapter was trained: reproduces the adapter-on-4-bit model)"
                        : "the original full-precision weights of " + modelDir;
                desc = a.layers().size() + " " + a.config().peftType() + " adapter layers from " + adapterDir + " merged into " + base;
            } else {
                desc = stored4bit > 0 ? "no adapter; " + stored4bit + " projections dequantized from the 4-bit checkpoint" : "no adapter";
            }
            ExportTensors t = new ExportTensors(ckpt, shapes, a, desc);
            t.bases.putAll(bases);
            return t;
        } catch (RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }

    private static void check(HfCheckpoint ckpt, String name, long[] expected) {
        if (!ckpt.contains(name))
            throw new GgufFormatException(ckpt.dir() + ": missing tensor " + name + " (expected shape " + Arrays.toString(expected) + ")");
        long[] actual = ckpt.info(name).shape();
        if (!Arrays.equals(actual, expected))
            throw new GgufFormatException(ckpt.dir() + ": tensor " + name + " has shape " + Arrays.toString(actual) + ", expected " + Arrays.toString(expected));
    }

    /** Where the weights came from and what adapter was merged, in one sentence. */
    String mergeDescription() {
        return mergeDescription;
    }

    Map<String, long[]> shapes() {
        return shapes;
    }

    /** A new float32 CPU tensor holding {@code name} (a projection weight with the adapter merged in). Caller owns it. */
    Tensor load(String name) {
        try (PointerScope scope = new PointerScope()) {
            Tensor t;
            String module = name.endsWith(".weight") ? name.substring(0, name.length() - 7) : null;
            LazyBase base = module == null ? null : bases.get(module);
            if (base == null) {
                t = ckpt.load(name).to(ScalarType.Float);
            } else {
                AdapterLayer a = adapter == null ? null : adapter.layers().get(module);
                t = a != null ? Merge.mergedWeight(a) : base.dequantizedWeight(ScalarType.Float);
            }
            return t.contiguous().retainReference();
        }
    }

    @Override
    public void close() {
        if (adapter != null) adapter.layers().values().forEach(AdapterLayer::close);
        ckpt.close();
    }

    /**
     * A projection's frozen base as adapters see it, without its weight in memory: the shape is known, and the
     * weight is read from the checkpoint (dequantized, or round-tripped through 4 bits) only when asked for.
     */
    private static final class LazyBase implements LinearLayer {
        private final HfCheckpoint ckpt;
        private final String module;
        private final long[] shape; // [out, in]
        private final boolean stored4bit;
        private final QuantSpec requantize;

        LazyBase(HfCheckpoint ckpt, String module, long[] shape, boolean stored4bit, QuantSpec requantize) {
            this.ckpt = ckpt;
            this.module = module;
            this.shape = shape;
            this.stored4bit = stored4bit;
            this.requantize = requantize;
        }

        @Override
        public long inFeatures() {
            return shape[1];
        }

        @Override
        public long outFeatures() {
            return shape[0];
        }

        @Override
        public Tensor forward(Tensor x) {
            throw new UnsupportedOperationException("export reads weights only");
        }

        @Override
        public Tensor dequantizedWeight(ScalarType dtype) {
            if (stored4bit) {
                try (QuantizedWeight w = BnbCheckpointCodec.read(ckpt, module)) {
                    if (w.rows() != shape[0] || w.cols() != shape[1])
                        throw new GgufFormatException(ckpt.dir() + ": quantized layer " + module + " is [" + w.rows() + ", " + w.cols() + "], expected "
                                + Arrays.toString(shape));
                    return Kernels.dequantize(w, dtype);
                }
            }
            Tensor w = ckpt.load(module + ".weight");
            if (requantize == null) return w.to(dtype);
            // quantized from its stored dtype, as the trainer's loader does
            ScalarType stored = w.scalar_type().intern();
            try (QuantizedLinear q = QuantizedLinear.quantize(stored == ScalarType.Double ? w.to(ScalarType.Float) : w, null, requantize)) {
                return q.dequantizedWeight(dtype);
            }
        }

        @Override
        public Tensor bias() {
            return ckpt.contains(module + ".bias") ? ckpt.load(module + ".bias") : null;
        }

        @Override
        public long weightBytes() {
            return 0;
        }
    }
}
