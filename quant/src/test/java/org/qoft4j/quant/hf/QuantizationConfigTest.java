package org.qoft4j.quant.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantType;

class QuantizationConfigTest {
    private static final ObjectMapper M = new ObjectMapper();

    @Test
    void bitsandbytesFormMatchesTransformers() throws Exception {
        QuantizationConfig c = QuantizationConfig.of(QuantSpec.nf4().withDoubleQuant(true), "bfloat16", null);
        assertEquals("{\"_load_in_4bit\":true,\"_load_in_8bit\":false,\"bnb_4bit_compute_dtype\":\"bfloat16\",\"bnb_4bit_quant_storage\":\"uint8\","
                + "\"bnb_4bit_quant_type\":\"nf4\",\"bnb_4bit_use_double_quant\":true,\"llm_int8_enable_fp32_cpu_offload\":false,"
                + "\"llm_int8_has_fp16_weight\":false,\"llm_int8_skip_modules\":null,\"llm_int8_threshold\":6.0,\"load_in_4bit\":true,"
                + "\"load_in_8bit\":false,\"quant_method\":\"bitsandbytes\"}", M.writeValueAsString(c.toJson()));
        assertEquals(c, QuantizationConfig.fromJson(c.toJson()));
        assertTrue(c.skips("lm_head"));
        assertFalse(c.skips("model.layers.0.mlp.down_proj"));

        QuantizationConfig skip = QuantizationConfig.of(QuantSpec.of(QuantType.FP4), "float16", List.of("lm_head", "mlp.down_proj"));
        assertEquals(skip, QuantizationConfig.fromJson(skip.toJson()));
        assertEquals("[\"lm_head\",\"mlp.down_proj\"]", M.writeValueAsString(skip.toJson().get("llm_int8_skip_modules")));
        assertTrue(skip.skips("model.layers.3.mlp.down_proj"));
        assertFalse(skip.skips("model.layers.3.mlp.up_proj"));
    }

    @Test
    void gptqForm() throws Exception {
        QuantizationConfig c = QuantizationConfig.of(QuantSpec.of(QuantType.INT4).withGroupSize(64), "bfloat16", null);
        assertEquals("{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":64,\"sym\":false,\"desc_act\":false,\"checkpoint_format\":\"gptq\"}",
                M.writeValueAsString(c.toJson()));
        assertEquals(c, QuantizationConfig.fromJson(c.toJson()));
        // A typical AutoGPTQ config: sym true, no checkpoint_format, extra keys.
        QuantizationConfig auto = QuantizationConfig.fromJson(M.readTree("{\"bits\":4,\"group_size\":128,\"damp_percent\":0.1,\"desc_act\":false,"
                + "\"sym\":true,\"true_sequential\":true,\"quant_method\":\"gptq\"}"));
        assertEquals(128, auto.groupSize());
        assertEquals(QuantType.INT4, auto.type());
    }

    @Test
    void readsFromAWholeConfigAndRejectsWhatItCannotLoad() throws Exception {
        ObjectNode cfg = (ObjectNode) M.readTree("{\"model_type\":\"llama\"}");
        assertNull(QuantizationConfig.fromModelConfig(cfg));
        cfg.set("quantization_config", M.readTree("{\"quant_method\":\"bitsandbytes\",\"load_in_4bit\":true,\"bnb_4bit_quant_type\":\"nf4\"}"));
        QuantizationConfig c = QuantizationConfig.fromModelConfig(cfg);
        assertEquals(QuantType.NF4, c.type());
        assertFalse(c.doubleQuant());
        assertEquals("float32", c.computeDtype());

        String[][] bad = {
                {"{\"quant_method\":\"awq\"}", "quant_method 'awq' is not supported"},
                {"{\"quant_method\":\"bitsandbytes\",\"load_in_8bit\":true}", "8-bit"},
                {"{\"quant_method\":\"bitsandbytes\",\"load_in_4bit\":true,\"bnb_4bit_quant_storage\":\"bfloat16\"}", "quant_storage 'bfloat16'"},
                {"{\"quant_method\":\"bitsandbytes\",\"load_in_4bit\":true,\"llm_int8_skip_modules\":\"lm_head\"}", "must be a list"},
                {"{\"quant_method\":\"gptq\",\"bits\":8,\"group_size\":128}", "bits must be 4"},
                {"{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128,\"desc_act\":true}", "act-order"},
                {"{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128,\"checkpoint_format\":\"gptq_v2\"}", "gptq_v2"},
        };
        for (String[] b : bad) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QuantizationConfig.fromJson(M.readTree(b[0])), b[0]);
            assertTrue(e.getMessage().contains(b[1]), () -> "expected '" + b[1] + "' in " + e.getMessage());
        }
    }
}
