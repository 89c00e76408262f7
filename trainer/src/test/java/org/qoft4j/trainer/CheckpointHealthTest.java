package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.core.Tensors;
import org.qoft4j.model.AdapterSet;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.quant.QuantSpec;

/** A checkpoint is good only when its adapters and optimizer moments are finite; the checks find what is not, and where. */
class CheckpointHealthTest {
    @TempDir
    Path tmp;

    /**
     * A gradient of 1e22 (finite) makes AdamW's second moment overflow ({@code (1 - beta2) g g} = 1e41 in float32) while
     * the parameter stays finite (the update {@code m / sqrt(inf)} is 0): only the optimizer file shows it.
     */
    @Test
    void infiniteMomentsAreFoundInTheOptimizerFile() {
        TrainConfig c = TinyLlama.with(TrainConfig.defaults(), "model=m", "data=d");
        try (PointerScope scope = new PointerScope()) {
            Tensor healthy = Tensors.of(new float[] {1f, 2f}, 2).set_requires_grad(true), p = Tensors.of(new float[] {1f, 2f}, 2).set_requires_grad(true);
            try (AdapterOptimizer ok = new AdapterOptimizer(List.of(healthy), c); AdapterOptimizer bad = new AdapterOptimizer(List.of(healthy, p), c)) {
                healthy.sum().backward();
                ok.step(0.1);
                ok.save(tmp.resolve("ok.pt"));
                assertNull(CheckpointHealth.optimizerFile(tmp.resolve("ok.pt")));

                bad.zeroGrad();
                healthy.sum().backward();
                p.mul(new Scalar(1e22)).sum().backward();
                bad.step(0.1);
                for (float v : Tensors.toFloats(p)) assertTrue(Float.isFinite(v), "the parameter itself stays finite: " + v);
                bad.save(tmp.resolve("bad.pt"));
                String problem = CheckpointHealth.optimizerFile(tmp.resolve("bad.pt"));
                assertTrue(problem != null && problem.contains("exp_avg_sq of adapter tensor #1") && problem.contains("2 non-finite value(s) of 2"),
                        String.valueOf(problem));
            }
        }
    }

    @Test
    void aNonFiniteAdapterIsNamedAndNeverCheckpointed() throws IOException {
        TrainConfig c = TinyLlama.with(TrainConfig.defaults(), "model=m", "data=d", "oft-block-size=16");
        Path dir = tmp.resolve("checkpoints");
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5);
             AdapterSet a = AdapterSet.inject(m, c.adapterConfig(), 1); AdapterOptimizer opt = new AdapterOptimizer(a.parameters(), c)) {
            assertNull(CheckpointHealth.adapters(a));
            String victim = a.layers().keySet().stream().skip(3).findFirst().orElseThrow();
            try (NoGradGuard g = new NoGradGuard()) {
                Tensor t = a.layers().get(victim).parameters().get(0);
                t.view(-1).narrow(0, 1, 2).fill_(new Scalar(Double.POSITIVE_INFINITY));
            }
            String problem = CheckpointHealth.adapters(a);
            assertTrue(problem != null && problem.contains(victim + ".oft_R.weight") && problem.contains("2 non-finite value(s)"), String.valueOf(problem));

            StateNotFiniteException e = assertThrows(StateNotFiniteException.class,
                    () -> new Checkpointer(dir, 2).save(new TrainerState(1, 2, 0, 1, 10, 1), a, opt, new RngState(m.device()), c));
            assertTrue(e.getMessage().contains("checkpoint step-000001 refused") && e.getMessage().contains(victim), e.getMessage());
            assertFalse(Files.exists(dir.resolve("step-000001")));
            if (Files.exists(dir)) try (Stream<Path> s = Files.list(dir)) {
                assertEquals(0, s.count(), "no temporary directory is left");
            }
        }
    }

    @Test
    void stepMetricsMustBeFinite() {
        StepMetrics fine = new StepMetrics("train", 1, 2.0, 1e-3, 0.5, 10, 10, 1, 1, 1, 1, null, 1e-6, null);
        assertNull(CheckpointHealth.metrics(fine));
        StepMetrics rotation = new StepMetrics("train", 3, 5.5, 1e9, 0.0, 10, 10, 1, 1, 1, 1, null, Double.NaN, null);
        assertTrue(CheckpointHealth.metrics(rotation).contains("max |R^T R - I| is NaN"));
        StepMetrics lora = new StepMetrics("train", 3, 2.0, 1e9, Double.POSITIVE_INFINITY, 10, 10, 1, 1, 1, 1, null, null, null);
        assertTrue(CheckpointHealth.metrics(lora).contains("the gradient norm is Infinity"));
    }
}
