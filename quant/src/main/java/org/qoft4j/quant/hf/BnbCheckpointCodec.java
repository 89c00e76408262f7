package org.qoft4j.quant.hf;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.Int4Weight;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.core.Tensors;
import org.qoft4j.core.safetensors.DType;
import org.qoft4j.core.safetensors.HfCheckpoint;
import org.qoft4j.core.safetensors.SafetensorsException;
import org.qoft4j.core.safetensors.TensorInfo;

/**
 * The checkpoint keys of one quantized linear layer, both ways. For a layer prefix P
 * (e.g. {@code model.layers.0.self_attn.q_proj}):
 * <pre>
 * bitsandbytes nf4/fp4 (transformers *-bnb-4bit)       GPTQ int4 (sym=false, desc_act=false, v1 zeros)
 *   P.weight                         U8  [ceil(n/2), 1]   P.qweight  I32 [in/8, out]
 *   P.weight.absmax                  F32 [nblocks]        P.qzeros   I32 [in/g, out/8]
 *                                    (U8 with double quant) P.scales F16 [in/g, out]
 *   P.weight.quant_map               F32 [16]             P.g_idx    I32 [in]   (= i / g)
 *   P.weight.nested_absmax           F32 [ceil(nblocks/256)]   (double quant only)
 *   P.weight.nested_quant_map        F32 [256]                 (double quant only)
 *   P.weight.quant_state.bitsandbytes__nf4  U8 [len]  UTF-8 JSON ({@link BnbQuantState})
 * </pre>
 * The bias ({@code P.bias}) is an ordinary tensor and not handled here. Reading checks every tensor's
 * dtype and shape against the quant_state (or the GPTQ shapes) and names the tensor on any mismatch.
 */
public final class BnbCheckpointCodec {
    private BnbCheckpointCodec() {}

    /** The tensors that store {@code w} under {@code prefix}, in the order above (CPU or device tensors as held by w). */
    public static Map<String, Tensor> tensors(String prefix, QuantizedWeight w) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        if (w instanceof Bnb4bitWeight b) {
            String p = prefix + ".weight";
            out.put(p, b.packed().reshape(-1, 1));
            out.put(p + ".absmax", b.absmax().reshape(-1));
            out.put(p + ".quant_map", b.quantMap().reshape(-1));
            if (b.nested() != null) {
                out.put(p + ".nested_absmax", b.nested().absmax().reshape(-1));
                out.put(p + ".nested_quant_map", b.nested().quantMap().reshape(-1));
            }
            byte[] json = BnbQuantState.of(b).toJson().getBytes(StandardCharsets.UTF_8);
            out.put(p + "." + BnbQuantState.keySuffix(b.type()), Tensors.ofBytes(json, json.length));
        } else {
            Int4Weight q = (Int4Weight) w;
            out.put(prefix + ".qweight", q.qweight());
            out.put(prefix + ".qzeros", q.qzeros());
            out.put(prefix + ".scales", q.scales());
            out.put(prefix + ".g_idx", groupIndex(q.cols(), q.groupSize()));
        }
        return out;
    }

    /** GPTQ's g_idx without act-order: I32 [cols], entry i = i / groupSize. */
    static Tensor groupIndex(long cols, int groupSize) {
        int[] g = new int[Math.toIntExact(cols)];
        for (int i = 0; i < g.length; i++) g[i] = i / groupSize;
        return Tensors.ofInts(g, cols);
    }

    /** The format {@code prefix} is stored in within {@code ckpt}, or empty when it is not a quantized layer. */
    public static Optional<QuantType> detect(HfCheckpoint ckpt, String prefix) {
        for (QuantType t : new QuantType[] {QuantType.NF4, QuantType.FP4})
            if (ckpt.contains(prefix + ".weight." + BnbQuantState.keySuffix(t))) return Optional.of(t);
        if (ckpt.contains(prefix + ".qweight")) return Optional.of(QuantType.INT4);
        return Optional.empty();
    }

    /**
     * The layer prefix of a checkpoint key that belongs to a quantized layer
     * ({@code P.weight.quant_state.bitsandbytes__nf4} or {@code P.qweight}), else null.
     */
    public static String quantizedPrefix(String key) {
        for (QuantType t : new QuantType[] {QuantType.NF4, QuantType.FP4}) {
            String s = ".weight." + BnbQuantState.keySuffix(t);
            if (key.endsWith(s)) return key.substring(0, key.length() - s.length());
        }
        return key.endsWith(".qweight") ? key.substring(0, key.length() - ".qweight".length()) : null;
    }

    /** The prefixes of all quantized layers in {@code ckpt}, in checkpoint order. */
    public static List<String> quantizedPrefixes(HfCheckpoint ckpt) {
        List<String> out = new ArrayList<>();
        for (String n : ckpt.names()) {
            String p = quantizedPrefix(n);
            if (p != null) out.add(p);
        }
        return out;
    }

    /** The keys that store the quantized layer {@code prefix} in {@code ckpt} (those of the layout above that are present). */
    public static List<String> keysOf(HfCheckpoint ckpt, String prefix) {
        List<String> keys = new ArrayList<>();
        for (String suffix : new String[] {".weight", ".weight.absmax", ".weight.quant_map", ".weight.nested_absmax", ".weight.nested_quant_map",
                ".weight." + BnbQuantState.keySuffix(QuantType.NF4), ".weight." + BnbQuantState.keySuffix(QuantType.FP4),
                ".qweight", ".qzeros", ".scales", ".g_idx"})
            if (ckpt.contains(prefix + suffix)) keys.add(prefix + suffix);
        return keys;
    }

    /** Describes the quantized layer {@code prefix} from headers and quant_state alone (shapes are checked by {@link #read}, not here). */
    public static QuantizedLayerInfo describe(HfCheckpoint ckpt, String prefix) {
        QuantType t = detect(ckpt, prefix)
                .orElseThrow(() -> new SafetensorsException(ckpt.dir(), prefix, "is not a quantized layer (no quant_state and no qweight)"));
        List<String> keys = keysOf(ckpt, prefix);
        long bytes = keys.stream().mapToLong(k -> ckpt.info(k).byteLength()).sum();
        if (t == QuantType.INT4) {
            long[] qw = ckpt.info(prefix + ".qweight").shape();
            long[] sc = ckpt.contains(prefix + ".scales") ? ckpt.info(prefix + ".scales").shape() : new long[0];
            if (qw.length != 2 || sc.length != 2 || sc[0] <= 0)
                throw bad(ckpt, prefix + ".qweight", "qweight/scales are not 2-D GPTQ tensors");
            return new QuantizedLayerInfo(prefix, t, qw[1], qw[0] * 8, 0, false, Math.toIntExact(qw[0] * 8 / sc[0]), keys, bytes);
        }
        String qsKey = prefix + ".weight." + BnbQuantState.keySuffix(t);
        BnbQuantState qs;
        try {
            qs = BnbQuantState.parse(utf8(ckpt.fileOf(qsKey).bytes(qsKey)));
        } catch (IllegalArgumentException e) {
            throw bad(ckpt, qsKey, e.getMessage());
        }
        return new QuantizedLayerInfo(prefix, t, qs.rows(), qs.cols(), qs.blocksize(), qs.nested() != null, 0, keys, bytes);
    }

    /** Reads the quantized layer at {@code prefix}; a {@link SafetensorsException} names the offending tensor. */
    public static QuantizedWeight read(HfCheckpoint ckpt, String prefix) {
        QuantType t = detect(ckpt, prefix)
                .orElseThrow(() -> new SafetensorsException(ckpt.dir(), prefix, "is not a quantized layer (no quant_state and no qweight)"));
        return t == QuantType.INT4 ? readGptq(ckpt, prefix) : readBnb(ckpt, prefix, t);
    }

    private static Bnb4bitWeight readBnb(HfCheckpoint ckpt, String prefix, QuantType type) {
        String p = prefix + ".weight";
        String qsKey = p + "." + BnbQuantState.keySuffix(type);
        BnbQuantState qs;
        try {
            TensorInfo qi = expect(ckpt, qsKey, DType.U8, -1);
            qs = BnbQuantState.parse(utf8(ckpt.fileOf(qsKey).bytes(qsKey)));
            if (qi.shape().length != 1) throw bad(ckpt, qsKey, "must be 1-D U8, found shape " + Arrays.toString(qi.shape()));
        } catch (IllegalArgumentException e) {
            throw bad(ckpt, qsKey, e.getMessage());
        }
        if (qs.quantType() != type) throw bad(ckpt, qsKey, "says quant_type " + qs.quantType().lowerName() + " under a __" + type.lowerName() + " key");
        long n = qs.rows() * qs.cols();
        long nblocks = qs.nblocks();
        expect(ckpt, p, DType.U8, (n + 1) / 2, 1);
        expect(ckpt, p + ".absmax", qs.nested() == null ? DType.F32 : DType.U8, nblocks);
        expect(ckpt, p + ".quant_map", DType.F32, 16);
        Bnb4bitWeight.NestedAbsmax nested = null;
        boolean hasNested = ckpt.contains(p + ".nested_absmax") || ckpt.contains(p + ".nested_quant_map");
        if (qs.nested() == null && hasNested)
            throw bad(ckpt, qsKey, "has no nested_* fields but " + p + ".nested_absmax / nested_quant_map exist");
        try {
            if (qs.nested() != null) {
                int nb = qs.nested().blocksize();
                expect(ckpt, p + ".nested_absmax", DType.F32, (nblocks + nb - 1) / nb);
                expect(ckpt, p + ".nested_quant_map", DType.F32, 256);
                nested = new Bnb4bitWeight.NestedAbsmax(ckpt.load(p + ".nested_absmax"), ckpt.load(p + ".nested_quant_map"),
                        qs.nested().offset(), nb);
            }
            return new Bnb4bitWeight(type, qs.rows(), qs.cols(), qs.dtype(), qs.blocksize(), ckpt.load(p), ckpt.load(p + ".absmax"),
                    ckpt.load(p + ".quant_map"), nested);
        } catch (IllegalArgumentException e) {
            throw bad(ckpt, p, e.getMessage());
        }
    }

    private static Int4Weight readGptq(HfCheckpoint ckpt, String prefix) {
        TensorInfo qw = ckpt.info(prefix + ".qweight");
        if (qw.dtype() != DType.I32 || qw.shape().length != 2)
            throw bad(ckpt, prefix + ".qweight", "must be I32 [in/8, out], found " + qw.dtype() + " " + Arrays.toString(qw.shape()));
        long cols = qw.shape()[0] * 8, rows = qw.shape()[1];
        TensorInfo sc = ckpt.contains(prefix + ".scales") ? ckpt.info(prefix + ".scales") : null;
        if (sc == null || sc.dtype() != DType.F16 || sc.shape().length != 2 || sc.shape()[1] != rows || sc.shape()[0] <= 0 || cols % sc.shape()[0] != 0)
            throw bad(ckpt, prefix + ".scales", "must be F16 [groups, " + rows + "] with groups dividing " + cols + ", found "
                    + (sc == null ? "nothing" : sc.dtype() + " " + Arrays.toString(sc.shape())));
        long groups = sc.shape()[0];
        int groupSize = Math.toIntExact(cols / groups);
        QuantizationConfig qc = configOf(ckpt);
        if (qc != null && qc.type() == QuantType.INT4 && (qc.groupSize() == -1 ? groups != 1 : qc.groupSize() != groupSize))
            throw bad(ckpt, prefix + ".scales", "has " + groups + " groups of " + groupSize + " but config.json says group_size " + qc.groupSize());
        expect(ckpt, prefix + ".qzeros", DType.I32, groups, rows / 8);
        if (ckpt.contains(prefix + ".g_idx")) {
            expect(ckpt, prefix + ".g_idx", DType.I32, cols);
            if (!torch.equal(ckpt.load(prefix + ".g_idx"), groupIndex(cols, groupSize)))
                throw bad(ckpt, prefix + ".g_idx", "is not i / " + groupSize + ": act-order (desc_act) GPTQ checkpoints are not supported");
        }
        ScalarType dtype = modelDtype(ckpt);
        try {
            return new Int4Weight(rows, cols, dtype, groupSize, ckpt.load(prefix + ".qweight"), ckpt.load(prefix + ".qzeros"), ckpt.load(prefix + ".scales"));
        } catch (IllegalArgumentException e) {
            throw bad(ckpt, prefix + ".qweight", e.getMessage());
        }
    }

    private static String utf8(java.nio.ByteBuffer b) {
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(b).toString();   // reports malformed input
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException("quant_state bytes are not valid UTF-8");
        }
    }

    private static QuantizationConfig configOf(HfCheckpoint ckpt) {
        try {
            return QuantizationConfig.fromModelConfig(ckpt.config());
        } catch (IllegalArgumentException e) {
            throw new SafetensorsException(ckpt.dir().resolve(HfCheckpoint.CONFIG_FILE), null, e.getMessage());
        }
    }

    /** config.json's torch_dtype (or newer "dtype"); float16 when absent, the dtype of GPTQ scales. */
    private static ScalarType modelDtype(HfCheckpoint ckpt) {
        var config = ckpt.config();
        String name = config == null ? null : config.path("torch_dtype").asText(config.path("dtype").asText(null));
        if (name == null) return ScalarType.Half;
        try {
            return BnbQuantState.torchDtype(name);
        } catch (IllegalArgumentException e) {
            return ScalarType.Half;
        }
    }

    /** Checks dtype and shape of {@code key}; a negative dimension means "any". */
    private static TensorInfo expect(HfCheckpoint ckpt, String key, DType dtype, long... shape) {
        if (!ckpt.contains(key)) throw bad(ckpt, key, "is missing (expected " + dtype + " " + Arrays.toString(shape) + ")");
        TensorInfo t = ckpt.info(key);
        boolean ok = t.dtype() == dtype && (shape.length == 1 && shape[0] < 0 || Arrays.equals(t.shape(), shape));
        if (!ok) throw bad(ckpt, key, "expected " + dtype + " " + Arrays.toString(shape) + ", found " + t.dtype() + " " + Arrays.toString(t.shape()));
        return t;
    }

    private static SafetensorsException bad(HfCheckpoint ckpt, String key, String problem) {
        Path file = ckpt.contains(key) ? ckpt.fileOf(key).path() : ckpt.dir();
        return new SafetensorsException(file, key, problem);
    }
}
