package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.qoft4j.core.ComputeDtype;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.adapters.LoraConfig;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.TargetModules;

/** Settings in layers (defaults, YAML, flags, key=value), validation, and the round trip through a checkpoint's config.yaml. */
class TrainConfigTest {
    @TempDir
    Path tmp;

    TrainConfigIO.Layer yaml(String text) throws IOException {
        Path f = tmp.resolve("c.yaml");
        Files.writeString(f, text);
        return TrainConfigIO.fromYaml(f);
    }

    static TrainConfigIO.Layer overrides(String... kv) {
        return TrainConfigIO.fromOverrides(List.of(kv));
    }

    @Test
    void layersApplyInOrder() throws IOException {
        Map<String, Object> flags = new LinkedHashMap<>();
        flags.put("lr", 3e-4);
        flags.put("batch-size", 8);
        flags.put("seed", null); // a flag not given
        TrainConfig c = TrainConfigIO.resolve(TrainConfig.defaults(), List.of(
                yaml("model: m\ndata: d.jsonl\nlr: 1e-3\nbatch-size: 2\nseq-len: 128\ntarget-modules: [q_proj, v_proj]\nadapter: lora\n"),
                TrainConfigIO.fromValues(flags, "flags"),
                overrides("batch-size=16", "lora-r=8", "lora-alpha=16")));
        assertEquals("m", c.model());
        assertEquals(3e-4, c.lr());        // flag over YAML
        assertEquals(16, c.batchSize());   // override over flag
        assertEquals(128, c.seqLen());     // YAML over default
        assertEquals(42, c.seed());        // default
        assertEquals(List.of("q_proj", "v_proj"), c.targetModules());
        LoraConfig lora = (LoraConfig) c.adapterConfig();
        assertEquals(8, lora.r());
        assertEquals(2.0, lora.scaling());
        assertTrue(lora.targetModules().matches("model.layers.0.self_attn.v_proj"));
        assertFalse(lora.targetModules().matches("model.layers.0.mlp.up_proj"));
    }

    @Test
    void epochsReplaceStepsAndBack() {
        TrainConfig base = TinyLlama.with(TrainConfig.defaults(), "model=m", "data=d");
        TrainConfig e = TinyLlama.with(base, "epochs=3");
        assertEquals(0, e.steps());
        assertEquals(3, e.epochs());
        TrainConfig s = TinyLlama.with(e, "steps=7");
        assertEquals(7, s.steps());
        assertEquals(0, s.epochs());
        ConfigException both = assertThrows(ConfigException.class, () -> TinyLlama.with(base, "epochs=2", "steps=5"));
        assertTrue(both.getMessage().contains("give exactly one of steps and epochs"), both.getMessage());
    }

    @Test
    void listsAcceptCommasAndAllLinear() {
        TrainConfig c = TinyLlama.with(TrainConfig.defaults(), "model=m", "data=d", "target-modules=q_proj, o_proj");
        assertEquals(List.of("q_proj", "o_proj"), c.targetModules());
        TrainConfig all = TinyLlama.with(c, "target-modules=[all-linear]");
        assertTrue(all.targets().matches("model.layers.3.mlp.down_proj"));
        assertFalse(all.targets().matches("lm_head"));
    }

    @Test
    void oftOptionsReachTheAdapterConfig() {
        OftConfig o = (OftConfig) TinyLlama.with(TrainConfig.defaults(), "model=m", "data=d", "oft-block-size=16", "neumann-terms=4").adapterConfig();
        assertEquals(16, o.blockSize());
        assertEquals(4, o.neumannTerms());
        assertEquals(TargetModules.LLAMA_ALL_LINEAR, o.targetModules());
    }

    @Test
    void computeDtypeFollowsTheDeviceUnlessGiven() {
        TrainConfig c = TinyLlama.with(TrainConfig.defaults(), "model=m", "data=d");
        assertEquals(ComputeDtype.AUTO, c.dtype());
        assertEquals(ScalarType.Float, c.loadOptions().dtype());
        assertEquals(ScalarType.BFloat16, TinyLlama.with(c, "device=cuda").loadOptions().dtype());
        assertEquals(ScalarType.Float, TinyLlama.with(c, "device=cuda", "dtype=fp32").loadOptions().dtype());
        assertEquals(ScalarType.BFloat16, TinyLlama.with(c, "dtype=bf16").loadOptions().dtype());
    }

    @Test
    void unknownKeysAndWrongTypesNameTheKeyAndTheSource() throws IOException {
        ConfigException e = assertThrows(ConfigException.class,
                () -> TrainConfigIO.resolve(TrainConfig.defaults(), List.of(yaml("model: m\nbatchsize: 4\n"))));
        assertTrue(e.getMessage().startsWith(tmp.resolve("c.yaml") + ": unknown option 'batchsize'") && e.getMessage().contains("batch-size"),
                e.getMessage());
        e = assertThrows(ConfigException.class, () -> TrainConfigIO.resolve(TrainConfig.defaults(), List.of(yaml("lr: fast\n"))));
        assertTrue(e.getMessage().contains("option 'lr' must be a number, got \"fast\""), e.getMessage());
        e = assertThrows(ConfigException.class, () -> TrainConfigIO.resolve(TrainConfig.defaults(), List.of(overrides("recompute=maybe"))));
        assertTrue(e.getMessage().contains("key=value overrides: option 'recompute' must be true or false"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> TrainConfigIO.resolve(TrainConfig.defaults(), List.of(overrides("lr"))));
        assertTrue(e.getMessage().contains("expected key=value"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> TrainConfigIO.resolve(TrainConfig.defaults(), List.of(yaml("- a\n- b\n"))));
        assertTrue(e.getMessage().contains("expected a YAML mapping"), e.getMessage());
    }

    /** Parser errors are one line naming the file, line and column (issue 14, case 8), not SnakeYAML's ten-line report. */
    @Test
    void yamlSyntaxErrorsAreOneLine() throws IOException {
        Path f = tmp.resolve("bad.yaml");
        for (String[] bad : new String[][] {{"lr: 2e-4\ndata: \"train.jsonl\nsteps: 3\n", "line 4, column 1: while scanning a quoted scalar: found unexpected end of stream"},
                {"steps: 3\nlr: 1: 2\n", "line 2, column 6: mapping values are not allowed here"},
                {"target-modules:\n\t- q_proj\n", "line 2, column 1: while scanning for the next token: found character '\\t(TAB)'"}}) {
            Files.writeString(f, bad[0]);
            ConfigException e = assertThrows(ConfigException.class, () -> TrainConfigIO.fromYaml(f));
            assertTrue(e.getMessage().startsWith(f + ": not valid YAML: " + bad[1]), e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        }
        ConfigException e = assertThrows(ConfigException.class, () -> overrides("target-modules=[q_proj, v_proj"));
        assertTrue(e.getMessage().startsWith("override 'target-modules=[q_proj, v_proj': the value is not a YAML scalar or list: line "), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }

    @Test
    void everyBadValueIsListed() {
        ConfigException e = assertThrows(ConfigException.class, () -> TinyLlama.with(TrainConfig.defaults(), "batch-size=0", "seq-len=1",
                "lr=0", "device=tpu", "quant=int8", "neumann-terms=9", "lora-dropout=1", "max-grad-norm=-1", "target-modules=[]", "adapter=qoft",
                "steps=abc", "warmup=xyz", "beta1=fast"));
        String m = e.getMessage();
        for (String expected : List.of("model is required", "data is required", "batch-size must be >= 1, got 0", "seq-len must be >= 2, got 1",
                "lr must be a positive number, got 0.0", "device must be cpu, cuda or cuda:N, got 'tpu'", "quant must be nf4, fp4, int4 or none, got 'int8'",
                "option 'steps' must be an integer, got \"abc\"", "option 'warmup' must be an integer, got \"xyz\"",
                "option 'beta1' must be a number, got \"fast\"",
                "neumann-terms must be 1..8, got 9", "lora-dropout must be in [0, 1), got 1.0", "max-grad-norm must be >= 0",
                "target-modules must list module names", "adapter must be oft, lora or oft-v1, got 'qoft'"))
            assertTrue(m.contains(expected), "missing '" + expected + "' in:\n" + m);
    }

    @Test
    void roundTripThroughYaml() {
        TrainConfig c = TinyLlama.with(TrainConfig.defaults(), "model=/models/tiny", "data=train.jsonl", "eval-data=eval.jsonl", "epochs=2",
                "lr=3e-5", "adapter=lora", "target-modules=[q_proj,v_proj]", "recompute=false", "device=cuda", "dtype=bf16");
        Path f = tmp.resolve("config.yaml");
        TrainConfigIO.write(c, f);
        assertEquals(c, TrainConfigIO.read(f));
        assertNull(TrainConfigIO.read(f).resume());
        assertTrue(TrainConfigIO.differences(c, TinyLlama.with(c, "lr=1e-4", "steps=5"), Trainer.RESUME_MAY_CHANGE).contains(
                "lr (checkpoint: 3.0E-5, now: 1.0E-4)"));
    }
}
