package org.qoft4j.quant.hf;

import org.qoft4j.quant.kernel.Kernels;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.quant.Bnb4bitWeight;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.linear.Quantizer;
import org.qoft4j.quant.ScopedTest;
import org.qoft4j.core.Tensors;
import org.qoft4j.core.safetensors.DType;
import org.qoft4j.core.safetensors.HfCheckpoint;
import org.qoft4j.core.safetensors.SafetensorsException;
import org.qoft4j.core.safetensors.SafetensorsWriter;
import org.qoft4j.core.safetensors.TensorInfo;

class BnbCheckpointCodecTest extends ScopedTest {
    private static final String P = "model.layers.0.self_attn.q_proj";

    @TempDir
    Path dir;

    private static Tensor weight(ScalarType dt, long rows, long cols) {
        torch.manual_seed(rows * 31 + cols);
        return torch.randn(new long[] {rows, cols}, new TensorOptions(ScalarType.Float)).mul(new Scalar(0.05)).to(dt);
    }

    private HfCheckpoint write(Map<String, Tensor> tensors) {
        SafetensorsWriter.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
        return HfCheckpoint.open(dir);
    }

    /** quantize -> write -> read -> dequantize equals quantize -> dequantize, bit for bit, for every format. */
    @Test
    void writtenCheckpointReadsBackBitIdentically() {
        List<QuantSpec> specs = List.of(QuantSpec.nf4(), QuantSpec.nf4().withDoubleQuant(true), QuantSpec.of(QuantType.FP4),
                QuantSpec.of(QuantType.FP4).withDoubleQuant(true).withBlocksize(128), QuantSpec.nf4().withBlocksize(32),
                QuantSpec.of(QuantType.INT4).withGroupSize(32));
        long[][] shapes = {{48, 96}, {7, 9}, {40, 64}};
        for (QuantSpec spec : specs) {
            for (long[] shape : shapes) {
                if (spec.type() == QuantType.INT4 && (shape[0] % 8 != 0 || shape[1] % spec.groupSize() != 0)) continue;
                for (ScalarType dt : new ScalarType[] {ScalarType.BFloat16, ScalarType.Float}) {
                    String what = spec + " " + Arrays.toString(shape) + " " + dt;
                    try (QuantizedWeight w = Quantizer.quantize(weight(dt, shape[0], shape[1]), spec);
                         HfCheckpoint c = write(BnbCheckpointCodec.tensors(P, w))) {
                        assertEquals(Optional.of(spec.type()), BnbCheckpointCodec.detect(c, P), what);
                        try (QuantizedWeight back = BnbCheckpointCodec.read(c, P)) {
                            assertEquals(w.getClass(), back.getClass(), what);
                            assertEquals(w.rows(), back.rows(), what);
                            assertEquals(w.cols(), back.cols(), what);
                            assertEquals(w.storageBytes(), back.storageBytes(), what);
                            if (spec.type() != QuantType.INT4) assertEquals(w.originalDtype(), back.originalDtype(), what);
                            for (ScalarType out : new ScalarType[] {ScalarType.Float, ScalarType.BFloat16}) {
                                assertTrue(torch.equal(Kernels.dequantize(w, out), Kernels.dequantize(back, out)), what + " -> " + out);
                            }
                            for (Map.Entry<String, Tensor> e : BnbCheckpointCodec.tensors(P, w).entrySet())
                                assertTrue(torch.equal(e.getValue(), BnbCheckpointCodec.tensors(P, back).get(e.getKey())), what + " " + e.getKey());
                        }
                    }
                }
            }
        }
    }

    private static void assertEntry(HfCheckpoint c, String key, DType dt, long... shape) {
        TensorInfo t = c.info(key);
        assertEquals(dt, t.dtype(), key);
        assertArrayEquals(shape, t.shape(), key);
    }

    /** The spec's key table: names, dtypes and shapes exactly. */
    @Test
    void keysDtypesAndShapesFollowTheSpec() throws Exception {
        try (QuantizedWeight w = Quantizer.quantize(weight(ScalarType.BFloat16, 64, 200), QuantSpec.nf4().withDoubleQuant(true));
             HfCheckpoint c = write(BnbCheckpointCodec.tensors(P, w))) {
            assertEquals(List.of(P + ".weight", P + ".weight.absmax", P + ".weight.nested_absmax", P + ".weight.nested_quant_map",
                    P + ".weight.quant_map", P + ".weight.quant_state.bitsandbytes__nf4"), c.names().stream().sorted().toList());
            assertEntry(c, P + ".weight", DType.U8, 6400, 1);
            assertEntry(c, P + ".weight.absmax", DType.U8, 200);
            assertEntry(c, P + ".weight.quant_map", DType.F32, 16);
            assertEntry(c, P + ".weight.nested_absmax", DType.F32, 1);
            assertEntry(c, P + ".weight.nested_quant_map", DType.F32, 256);
            String key = P + ".weight.quant_state.bitsandbytes__nf4";
            String json = StandardCharsets.UTF_8.decode(c.fileOf(key).bytes(key)).toString();
            float offset = ((Bnb4bitWeight) w).nested().offset();
            assertEquals("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [64, 200], \"nested_blocksize\": 256, "
                    + "\"nested_dtype\": \"float32\", \"nested_offset\": " + PythonRepr.of(offset) + "}", json);
            assertArrayEquals(new long[] {json.length()}, c.info(key).shape());
            assertArrayEquals(org.qoft4j.quant.nf4.CodeTables.nf4(), Tensors.toFloats(c.load(P + ".weight.quant_map")));
        }
        Files.delete(dir.resolve("model.safetensors"));
        try (QuantizedWeight w = Quantizer.quantize(weight(ScalarType.Half, 3, 5), QuantSpec.of(QuantType.FP4));
             HfCheckpoint c = write(BnbCheckpointCodec.tensors(P, w))) {
            assertEquals(4, c.names().size());
            assertEntry(c, P + ".weight", DType.U8, 8, 1);   // 15 codes, padded to 16 nibbles
            assertEntry(c, P + ".weight.absmax", DType.F32, 1);
            assertTrue(c.contains(P + ".weight.quant_state.bitsandbytes__fp4"));
            assertFalse(c.contains(P + ".weight.nested_absmax"));
        }
        Files.delete(dir.resolve("model.safetensors"));
        try (QuantizedWeight w = Quantizer.quantize(weight(ScalarType.BFloat16, 64, 256), QuantSpec.of(QuantType.INT4));
             HfCheckpoint c = write(BnbCheckpointCodec.tensors(P, w))) {
            assertEquals(List.of(P + ".g_idx", P + ".qweight", P + ".qzeros", P + ".scales"), c.names().stream().sorted().toList());
            assertEntry(c, P + ".qweight", DType.I32, 32, 64);
            assertEntry(c, P + ".qzeros", DType.I32, 2, 8);
            assertEntry(c, P + ".scales", DType.F16, 2, 64);
            assertEntry(c, P + ".g_idx", DType.I32, 256);
            long[] g = Tensors.toLongs(c.load(P + ".g_idx"));
            for (int i = 0; i < g.length; i++) assertEquals(i / 128, g[i]);
        }
    }

    /** The spec's reference: a saved 300x400 layer takes < 0.143x its fp32 size and < 0.29x its fp16 size. */
    @Test
    void savedLayerSize() {
        for (QuantType t : new QuantType[] {QuantType.NF4, QuantType.FP4}) {
            try (QuantizedWeight w = Quantizer.quantize(weight(ScalarType.Half, 300, 400), QuantSpec.of(t));
                 HfCheckpoint c = write(BnbCheckpointCodec.tensors(P, w))) {
                long saved = c.names().stream().mapToLong(n -> c.info(n).byteLength()).sum();
                assertTrue(saved < 0.143 * 300 * 400 * 4, t + ": " + saved);
                assertTrue(saved < 0.29 * 300 * 400 * 2, t + ": " + saved);
            }
        }
    }

    private SafetensorsException rejects(Map<String, Tensor> tensors, String tensor, String problem) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> {
            try (HfCheckpoint c = write(tensors)) {
                BnbCheckpointCodec.read(c, P).close();
            }
        });
        assertEquals(tensor, e.tensor(), e.getMessage());
        assertTrue(e.getMessage().contains(problem), () -> "expected '" + problem + "' in: " + e.getMessage());
        return e;
    }

    private static Map<String, Tensor> with(Map<String, Tensor> base, String key, Tensor t) {
        Map<String, Tensor> m = new LinkedHashMap<>(base);
        if (t == null) m.remove(key);
        else m.put(key, t);
        return m;
    }

    private static Tensor json(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return Tensors.ofBytes(b, b.length);
    }

    @Test
    void inconsistentBnbTensorsAreNamed() {
        try (QuantizedWeight dq = Quantizer.quantize(weight(ScalarType.BFloat16, 16, 64), QuantSpec.nf4().withDoubleQuant(true));
             QuantizedWeight plain = Quantizer.quantize(weight(ScalarType.BFloat16, 16, 64), QuantSpec.nf4())) {
            Map<String, Tensor> d = BnbCheckpointCodec.tensors(P, dq), p = BnbCheckpointCodec.tensors(P, plain);
            String qs = P + ".weight.quant_state.bitsandbytes__nf4";
            rejects(with(d, P + ".weight.absmax", Tensors.of(new float[16], 16)), P + ".weight.absmax", "expected U8 [16], found F32 [16]");
            rejects(with(p, P + ".weight.quant_map", null), P + ".weight.quant_map", "is missing (expected F32 [16])");
            rejects(with(p, P + ".weight", Tensors.ofBytes(new byte[500], 500, 1)), P + ".weight", "expected U8 [512, 1], found U8 [500, 1]");
            rejects(with(p, qs, json("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [16, 32]}")),
                    P + ".weight", "expected U8 [256, 1], found U8 [512, 1]");
            rejects(with(p, qs, json("{\"quant_type\": \"fp4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [16, 64]}")),
                    qs, "says quant_type fp4 under a __nf4 key");
            rejects(with(p, qs, json("{\"quant_type\": \"nf4\"")), qs, "not valid JSON");
            rejects(with(with(p, P + ".weight.nested_absmax", d.get(P + ".weight.nested_absmax")), P + ".weight.nested_quant_map",
                    d.get(P + ".weight.nested_quant_map")), qs, "has no nested_* fields");
            rejects(with(d, P + ".weight.nested_quant_map", Tensors.of(new float[255], 255)), P + ".weight.nested_quant_map", "expected F32 [256]");
            rejects(Map.of("x", Tensors.of(new float[] {1}, 1)), P, "is not a quantized layer");
        }
    }

    @Test
    void inconsistentGptqTensorsAreNamed() {
        try (QuantizedWeight w = Quantizer.quantize(weight(ScalarType.BFloat16, 16, 64), QuantSpec.of(QuantType.INT4).withGroupSize(32))) {
            Map<String, Tensor> t = BnbCheckpointCodec.tensors(P, w);
            int[] perm = new int[64];
            for (int i = 0; i < 64; i++) perm[i] = (i * 7) % 2;
            rejects(with(t, P + ".g_idx", Tensors.ofInts(perm, 64)), P + ".g_idx", "act-order");
            rejects(with(t, P + ".scales", t.get(P + ".scales").to(ScalarType.Float)), P + ".scales", "must be F16 [groups, 16]");
            rejects(with(t, P + ".qzeros", Tensors.ofInts(new int[8], 2, 4)), P + ".qzeros", "expected I32 [2, 2], found I32 [2, 4]");
            rejects(with(t, P + ".qweight", t.get(P + ".qweight").to(ScalarType.Long)), P + ".qweight", "must be I32 [in/8, out]");
        }
    }
}
