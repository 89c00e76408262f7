package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.Tensors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.adapters.CayleyConvention;
import org.qoft4j.adapters.CayleyNeumann;
import org.qoft4j.adapters.LoraConfig;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.TargetFilter;
import org.qoft4j.adapters.TargetModules;
import org.qoft4j.model.AdapterSet;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.quant.QuantSpec;

/**
 * Issue 13's training options: each reaches the adapters (and adapter_config.json), the defaults build the adapter
 * they built before, bad values are listed, and the orthogonality guard warns once and picks N for neumann-terms auto.
 */
class PeftOptionsTrainingTest {
    @TempDir
    Path tmp;
    Path data;

    @BeforeEach
    void writeData() throws IOException {
        data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), TinyLlama.countUp(12, 24, 3));
    }

    TrainConfig config(String... more) {
        TrainConfig c = TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, tmp.resolve("run")), "eval-fraction=0", "oft-block-size=16");
        return more.length == 0 ? c : TinyLlama.with(c, more);
    }

    @Test
    void theDefaultsBuildTheAdapterTheyBuiltBefore() {
        TrainConfig d = TrainConfig.defaults();
        assertEquals(OftConfig.defaults().withBlockSize(OftConfig.DEFAULT_BLOCK_SIZE).withNeumannTerms(OftConfig.DEFAULT_NEUMANN_TERMS)
                .withTargetModules(d.targets()), d.adapterConfig());
        assertEquals(new LoraConfig(16, 32, 0.05, false, d.targets()), TinyLlama.with(d, "model=m", "data=d", "adapter=lora").adapterConfig());
    }

    @Test
    void everyOptionReachesTheAdapterConfig() {
        OftConfig o = (OftConfig) config("oft-r=2", "use-cayley-neumann=false", "coft=true", "coft-eps=0.5", "block-share=true", "module-dropout=0.25",
                "layers-to-transform=1", "exclude-modules=[k_proj,v_proj]", "neumann-terms=6").adapterConfig();
        assertEquals(2, o.r());
        assertEquals(0, o.blockSize(), "r instead of a block size");
        assertTrue(!o.useCayleyNeumann() && o.exactConvention() == CayleyConvention.NEUMANN_CONSISTENT);
        assertTrue(o.coft() && o.eps() == 0.5 && o.blockShare() && o.moduleDropout() == 0.25 && o.neumannTerms() == 6);
        assertEquals(new TargetFilter(TargetModules.of("k_proj", "v_proj"), List.of(1), null), o.filter());
        assertEquals(TargetModules.regex(".*\\.1\\..*"), config("exclude-modules=[.*\\.1\\..*]").adapterConfig().filter().exclude(), "one regex");
        LoraConfig l = (LoraConfig) config("adapter=lora", "use-rslora=true", "rank-pattern={down_proj: 2, q_proj: 8}", "alpha-pattern={down_proj: 4}")
                .adapterConfig();
        assertTrue(l.useRslora());
        assertEquals(Map.of("down_proj", 2, "q_proj", 8), l.rankPattern());
        assertEquals(4.0 / Math.sqrt(2), l.scalingFor("model.layers.0.mlp.down_proj"));
        assertEquals(OrthogonalityGuard.AUTO_TERMS[0], ((OftConfig) config("neumann-terms=auto").adapterConfig()).neumannTerms());
        // the options travel through a checkpoint's config.yaml
        TrainConfig c = config("neumann-terms=auto", "rank-pattern={down_proj: 2}", "chat-template-kwargs={enable_thinking: false, date_string: 1 Jan}",
                "layers-to-transform=[0,1]", "add-bos-token=false");
        Path f = tmp.resolve("config.yaml");
        TrainConfigIO.write(c, f);
        assertEquals(c, TrainConfigIO.read(f));
        assertEquals(Map.of("enable_thinking", false, "date_string", "1 Jan"), TrainConfigIO.read(f).chatTemplateKwargs());
        assertTrue(TrainConfigIO.read(f).neumannTerms().isAuto());
    }

    @Test
    void badValuesAreListedWithTheOthers() {
        ConfigException e = assertThrows(ConfigException.class, () -> config("module-dropout=1", "coft-eps=0", "oft-r=-1", "rank-pattern={q_proj: 0}",
                "alpha-pattern={'[': 2}", "layers-to-transform=[-1]", "orthogonality-threshold=-1", "neumann-terms=0", "adapter=lora",
                "target-modules=[all-linear]"));
        for (String want : List.of("module-dropout must be in [0, 1), got 1.0", "coft-eps must be a positive number", "oft-r must be >= 0",
                "rank-pattern: 'q_proj' must map to a rank >= 1", "key '[' is not a regular expression", "layers-to-transform must list layer indices",
                "orthogonality-threshold must be >= 0", "neumann-terms must be 1..8, got 0"))
            assertTrue(e.getMessage().contains(want), "missing '" + want + "' in " + e.getMessage());
        e = assertThrows(ConfigException.class, () -> config("neumann-terms=auto", "orthogonality-threshold=0"));
        assertTrue(e.getMessage().contains("neumann-terms auto needs a positive orthogonality-threshold"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> config("neumann-terms=many"));
        assertTrue(e.getMessage().contains("neumann-terms must be an integer 1..8 or auto, got 'many'"), e.getMessage());
    }

    /** The smallest even N whose bound stays within the target; 8 when none does. */
    @Test
    void autoPicksTheCheapestSufficientTerms() {
        assertEquals(4, OrthogonalityGuard.termsFor(0.0, 0.025));
        assertEquals(4, OrthogonalityGuard.termsFor(0.5, 0.025));   // 0.5^6 = 0.016
        assertEquals(6, OrthogonalityGuard.termsFor(0.6, 0.025));   // 0.6^6 = 0.047, 0.6^10 = 0.006
        assertEquals(8, OrthogonalityGuard.termsFor(0.7, 0.025));   // 0.7^10 = 0.028, 0.7^14 = 0.0068
        assertEquals(8, OrthogonalityGuard.termsFor(1.5, 0.025));   // nothing suffices: the most terms
        for (double s = 0.05; s < 0.75; s += 0.05) {
            int n = OrthogonalityGuard.termsFor(s, 0.025);
            assertTrue(CayleyNeumann.orthogonalityBound(n, s) <= 0.025, "s " + s + ": N " + n);
        }
    }

    static void scaleOft(AdapterSet a, long seed, double std) {
        try (NoGradGuard g = new NoGradGuard()) {
            for (Tensor p : a.parameters())
                p.copy_(torch.randn(Tensors.shape(p), new GeneratorOptional(torch.make_generator_cpu(seed++)), new TensorOptions(ScalarType.Float))
                        .mul(new Scalar(std)));
        }
    }

    @Test
    void theGuardWarnsOnceNamingTheFixes() {
        TrainConfig c = config("orthogonality-threshold=0.01");
        try (PointerScope s = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5);
             AdapterSet a = AdapterSet.inject(m, c.adapterConfig(), c.adapter(), 1)) {
            scaleOft(a, 1, 0.06);
            double err = a.maxOrthogonalityError();
            assertTrue(err > 0.01, "the setup is off orthogonal: " + err);
            List<String> notes = new ArrayList<>();
            OrthogonalityGuard g = new OrthogonalityGuard(c, a, notes::add);
            g.onStep(metrics(1, 0.001));
            assertTrue(notes.isEmpty(), "under the threshold: quiet");
            g.onStep(metrics(2, err));
            g.onStep(metrics(3, err));
            assertEquals(1, notes.size(), "once: " + notes);
            String w = notes.get(0);
            for (String fix : List.of("neumann-terms", "auto", "use-cayley-neumann: false", "a lower lr (now 0.01)", "coft: true", "step 2"))
                assertTrue(w.contains(fix), "the warning names '" + fix + "': " + w);
            assertEquals(5, a.neumannTerms(), "a fixed N is never changed");
        }
        // exact Cayley runs are not watched (R is orthogonal to rounding)
        TrainConfig exact = config("orthogonality-threshold=0.01", "use-cayley-neumann=false");
        try (PointerScope s = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5);
             AdapterSet a = AdapterSet.inject(m, exact.adapterConfig(), exact.adapter(), 1)) {
            scaleOft(a, 1, 0.06);
            assertTrue(a.maxOrthogonalityError() < 1e-5, "exact Cayley: " + a.maxOrthogonalityError());
            List<String> none = new ArrayList<>();
            new OrthogonalityGuard(exact, a, none::add).onStep(metrics(2, 0.5));
            assertTrue(none.isEmpty(), none.toString());
        }
    }

    @Test
    void autoRaisesNSoTheMeasuredErrorStaysUnderTheThreshold() {
        TrainConfig c = config("neumann-terms=auto", "orthogonality-threshold=0.02");
        try (PointerScope s = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5);
             AdapterSet a = AdapterSet.inject(m, c.adapterConfig(), c.adapter(), 1)) {
            assertEquals(4, a.neumannTerms());
            List<String> notes = new ArrayList<>();
            OrthogonalityGuard g = new OrthogonalityGuard(c, a, notes::add);
            g.onStart(10, 0);
            assertEquals(4, a.neumannTerms(), "Q = 0: the cheapest N");
            double[] stds = {0.03, 0.05, 0.07};
            int before = 4;
            for (int i = 0; i < stds.length; i++) {
                scaleOft(a, 10 + i, stds[i]);
                g.onStep(metrics(i + 1, a.maxOrthogonalityError()));
                assertTrue(a.neumannTerms() >= before, "N never decreases");
                before = a.neumannTerms();
                assertTrue(a.maxOrthogonalityError() <= 0.02, "with N = " + a.neumannTerms() + " the error is " + a.maxOrthogonalityError());
            }
            assertTrue(a.neumannTerms() > 4, "N was raised: " + notes);
            assertTrue(notes.stream().anyMatch(n -> n.startsWith("neumann-terms auto: 4 -> ")), notes.toString());
        }
    }

    @Test
    void autoResumesWithTheTermsItHadChosen() throws IOException {
        // a high lr grows Q fast, so auto raises N during the run; resuming mid-run continues exactly
        TrainConfig straight = config("neumann-terms=auto", "orthogonality-threshold=1e-4", "lr=0.05", "steps=6", "save-every=3",
                "out=" + tmp.resolve("straight"));
        TrainConfig interrupted = TinyLlama.with(straight, "out=" + tmp.resolve("interrupted"));
        CheckpointResumeTest.run(straight, 0);
        assertThrows(CheckpointResumeTest.Stop.class, () -> CheckpointResumeTest.run(interrupted, 4));
        JsonNode saved = new ObjectMapper().readTree(tmp.resolve("interrupted/checkpoints/step-000003/adapter/adapter_config.json").toFile());
        assertNotEquals(4, saved.get("num_cayley_neumann_terms").asInt(), "auto chose more terms by step 3");
        CheckpointResumeTest.run(TinyLlama.with(interrupted, "resume=" + tmp.resolve("interrupted")), 0);
        assertEquals(CheckpointResumeTest.trainLosses(tmp.resolve("straight")), CheckpointResumeTest.trainLosses(tmp.resolve("interrupted")));
        JsonNode end = new ObjectMapper().readTree(tmp.resolve("straight/adapter/adapter_config.json").toFile());
        assertEquals(end, new ObjectMapper().readTree(tmp.resolve("interrupted/adapter/adapter_config.json").toFile()));
    }

    @Test
    void optionsChangeWhatTrains() {
        try (PointerScope s = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5)) {
            int all;
            try (AdapterSet a = AdapterSet.inject(m, config().adapterConfig(), 1)) {
                all = a.layers().size();
            }
            try (AdapterSet a = AdapterSet.inject(m, config("layers-to-transform=[1]", "exclude-modules=[o_proj]").adapterConfig(), 1)) {
                assertEquals(all / 2 - 1, a.layers().size(), "one of two layers, less o_proj");
                assertTrue(a.layers().keySet().stream().allMatch(k -> k.startsWith("model.layers.1.") && !k.endsWith("o_proj")), a.layers().keySet().toString());
            }
            try (AdapterSet a = AdapterSet.inject(m, config("block-share=true").adapterConfig(), 1)) {
                assertTrue(a.parameters().stream().allMatch(p -> p.size(0) == 1), "one stored block per layer");
            }
        }
    }

    /** README's config example is a valid configuration, and its issue-13 lines show the defaults (they change nothing). */
    @Test
    void readmeConfigExampleParsesAndShowsTheDefaults() throws IOException {
        String readme = java.nio.file.Files.readString(Path.of("..", "README.md"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("```yaml\n(# run\\.yaml.*?)```", java.util.regex.Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(), "README has the run.yaml example");
        Path yaml = tmp.resolve("run.yaml");
        java.nio.file.Files.writeString(yaml, m.group(1));
        TrainConfig c = TrainConfigIO.resolve(TrainConfig.defaults(), List.of(TrainConfigIO.fromYaml(yaml)));
        TrainConfig d = TrainConfig.defaults();
        for (String key : List.of("neumann-terms", "orthogonality-threshold", "use-cayley-neumann", "coft", "block-share", "layers-to-transform",
                "use-rslora", "chat-template-kwargs"))
            assertTrue(m.group(1).contains("\n" + key + ":"), key + " is in the example");
        assertEquals(d.neumannTerms(), c.neumannTerms());
        assertEquals(d.orthogonalityThreshold(), c.orthogonalityThreshold());
        assertEquals(d.adapterConfig(), TinyLlama.with(c, "target-modules=" + String.join(",", d.targetModules()), "lr=" + d.lr()).adapterConfig());
        assertEquals(d.chatTemplateKwargs(), c.chatTemplateKwargs());
    }

    static StepMetrics metrics(int step, double orth) {
        return new StepMetrics("train", step, 1.0, 0.01, 1.0, 10, 10, 100, 0.1, 0, 0, null, orth, null);
    }
}
