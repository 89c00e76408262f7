package org.qoft4j.quant.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.QuantType;

class BnbQuantStateTest {
    @Test
    void writesWhatJsonDumpsWrites() {
        BnbQuantState plain = new BnbQuantState(QuantType.FP4, 64, ScalarType.BFloat16, 300, 400, null);
        assertEquals("{\"quant_type\": \"fp4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [300, 400]}", plain.toJson());
        assertEquals("quant_state.bitsandbytes__fp4", BnbQuantState.keySuffix(QuantType.FP4));

        float offset = Float.intBitsToFloat(0x3d024395);   // ~0.0318
        BnbQuantState nested = new BnbQuantState(QuantType.NF4, 64, ScalarType.Float, 4096, 11008, new BnbQuantState.Nested(256, offset));
        assertEquals("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [4096, 11008], "
                + "\"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": " + PythonRepr.of(offset) + "}", nested.toJson());
        assertEquals("{\"quant_type\": \"nf4\", \"blocksize\": 128, \"dtype\": \"float16\", \"shape\": [8, 8], \"nested_blocksize\": 256, "
                + "\"nested_dtype\": \"float32\", \"nested_offset\": 7.62939453125e-06}",
                new BnbQuantState(QuantType.NF4, 128, ScalarType.Half, 8, 8, new BnbQuantState.Nested(256, 0x1p-17f)).toJson());
        assertEquals("9.999999747378752e-06", PythonRepr.of(1e-5f));   // float32 1e-5 widened, as bitsandbytes' offset.item()
    }

    @Test
    void roundTripsAndReadsOtherSpellings() {
        BnbQuantState s = new BnbQuantState(QuantType.NF4, 64, ScalarType.BFloat16, 32, 96, new BnbQuantState.Nested(256, 0.0421f));
        assertEquals(s, BnbQuantState.parse(s.toJson()));
        BnbQuantState java = BnbQuantState.parse("{\"quant_type\":\"nf4\",\"blocksize\":64,\"dtype\":\"float16\",\"shape\":[2,64],"
                + "\"nested_blocksize\":256,\"nested_dtype\":\"float32\",\"nested_offset\":1.0E-5,\"future_field\":[1]}");
        assertEquals(1e-5f, java.nested().offset());
        assertEquals(ScalarType.Half, java.dtype());
        assertEquals(2, java.rows());
        assertNull(BnbQuantState.parse("{\"quant_type\": \"fp4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [1, 3]}").nested());
    }

    @Test
    void rejectsBadFields() {
        String[][] cases = {
                {"[1]", "must be a JSON object"},
                {"{\"quant_type\": \"int8\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [1, 1]}", "quant_type 'int8'"},
                {"{\"quant_type\": \"nf4\", \"blocksize\": 0, \"dtype\": \"float32\", \"shape\": [1, 1]}", "blocksize must be a positive integer"},
                {"{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"int8\", \"shape\": [1, 1]}", "dtype 'int8'"},
                {"{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [4]}", "shape must be [out_features, in_features]"},
                {"{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [1, -4]}", "shape must be"},
                {"{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [1, 1], \"nested_offset\": 0.1}", "nested_dtype must be a string"},
                {"{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [1, 1], \"nested_dtype\": \"float32\", \"nested_blocksize\": 256}",
                        "nested_offset must be a finite number"},
                {"{\"quant_type\": \"nf4\", \"blocksize\": 64,", "not valid JSON"},
        };
        for (String[] c : cases) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BnbQuantState.parse(c[0]), c[0]);
            assertTrue(e.getMessage().contains(c[1]), () -> "expected '" + c[1] + "' in " + e.getMessage());
        }
    }
}
