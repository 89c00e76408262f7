package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.core.Tensors;

/** The libtorch AdamW behind the trainer does what AdamW's definition says with our options, clips, and resumes exactly. */
class AdapterOptimizerTest {
    @TempDir
    Path tmp;

    static TrainConfig options() {
        return TinyLlama.with(TrainConfig.defaults(), "model=m", "data=d", "beta1=0.5", "beta2=0.9", "adam-eps=1e-6", "weight-decay=0.1");
    }

    /** loss = sum(p^2): gradient 2p. AdamW by its definition (decoupled decay, bias correction), in double precision. */
    static double[] reference(double[] p, double lr, int steps, TrainConfig c) {
        double[] x = p.clone(), m = new double[p.length], v = new double[p.length];
        for (int t = 1; t <= steps; t++)
            for (int i = 0; i < x.length; i++) {
                double g = 2 * x[i];
                x[i] *= 1 - lr * c.weightDecay();
                m[i] = c.beta1() * m[i] + (1 - c.beta1()) * g;
                v[i] = c.beta2() * v[i] + (1 - c.beta2()) * g * g;
                double mh = m[i] / (1 - Math.pow(c.beta1(), t)), vh = v[i] / (1 - Math.pow(c.beta2(), t));
                x[i] -= lr * mh / (Math.sqrt(vh) + c.adamEps());
            }
        return x;
    }

    static void lossBackward(Tensor p) {
        p.pow(new Scalar(2.0)).sum().backward();
    }

    @Test
    void matchesAdamWsDefinition() {
        TrainConfig c = options();
        double[] start = {1.0, -0.5, 0.25};
        try (PointerScope scope = new PointerScope()) {
            Tensor p = Tensors.of(new float[] {1f, -0.5f, 0.25f}, 3).set_requires_grad(true);
            try (AdapterOptimizer opt = new AdapterOptimizer(List.of(p), c)) {
                for (int t = 0; t < 4; t++) {
                    opt.zeroGrad();
                    lossBackward(p);
                    opt.step(0.05);
                }
            }
            double[] want = reference(start, 0.05, 4, c);
            float[] got = Tensors.toFloats(p);
            for (int i = 0; i < 3; i++) assertEquals(want[i], got[i], 1e-6, "element " + i);
        }
    }

    @Test
    void clipsToTheGlobalNorm() {
        try (PointerScope scope = new PointerScope()) {
            Tensor a = Tensors.of(new float[] {3f}, 1).set_requires_grad(true), b = Tensors.of(new float[] {4f}, 1).set_requires_grad(true);
            try (AdapterOptimizer opt = new AdapterOptimizer(List.of(a, b), options())) {
                a.sum().mul(new Scalar(3.0)).backward();
                b.sum().mul(new Scalar(4.0)).backward(); // gradients 3 and 4: global norm 5
                assertEquals(5.0, opt.clipGradNorm(1.0).item_double(), 1e-6);
                assertEquals(0.6, Tensors.toFloats(a.grad())[0], 1e-6);
                assertEquals(0.8, Tensors.toFloats(b.grad())[0], 1e-6);
                assertEquals(1.0, opt.clipGradNorm(0).item_double(), 1e-6); // 0: measure only
                assertEquals(0.6, Tensors.toFloats(a.grad())[0], 1e-6);
            }
        }
    }

    @Test
    void savedStateContinuesExactly() {
        TrainConfig c = options();
        Path file = tmp.resolve(AdapterOptimizer.FILE);
        try (PointerScope scope = new PointerScope()) {
            Tensor p = Tensors.of(new float[] {1f, -2f}, 2).set_requires_grad(true);
            Tensor q;
            try (AdapterOptimizer opt = new AdapterOptimizer(List.of(p), c)) {
                for (int t = 0; t < 3; t++) {
                    opt.zeroGrad();
                    lossBackward(p);
                    opt.step(0.1);
                }
                opt.save(file);
                q = p.detach().clone().set_requires_grad(true);
                opt.zeroGrad();
                lossBackward(p);
                opt.step(0.1);
            }
            try (AdapterOptimizer resumed = new AdapterOptimizer(List.of(q), c)) {
                resumed.load(file);
                resumed.zeroGrad();
                lossBackward(q);
                resumed.step(0.1);
            }
            assertArrayEquals(Tensors.toFloats(p), Tensors.toFloats(q), 0f);
            assertTrue(Tensors.toFloats(p)[0] != 1f);
        }
    }

    /**
     * libtorch's own save_to(file) kills the JVM when the disk fills (a C++ exception from a destructor). Streamed
     * through Java, a full disk at any byte of the archive is a {@link DiskFullException} and leaves no file behind.
     */
    @Test
    void aFullDiskWhileSavingIsAJavaErrorAtAnyByte() throws java.io.IOException {
        Path dir = tmp.resolve("opt");
        java.nio.file.Files.createDirectories(dir);
        try (PointerScope scope = new PointerScope()) {
            Tensor p = Tensors.of(new float[4096], 4096).set_requires_grad(true);
            try (AdapterOptimizer opt = new AdapterOptimizer(List.of(p), options())) {
                lossBackward(p.add(new Scalar(1.0)));
                opt.step(0.1);
                Path whole = tmp.resolve("whole.pt");
                opt.save(whole);
                long size = java.nio.file.Files.size(whole);
                assertTrue(size > 2 * 4096 * 4, "the archive holds both moments: " + size);
                for (long budget : new long[] {0, 100, size / 2, size - 1}) {
                    Path target = dir.resolve(AdapterOptimizer.FILE);
                    org.qoft4j.core.DiskFullException e;
                    try (var full = org.qoft4j.core.FileWrites.failAfter(budget)) {
                        e = assertThrows(org.qoft4j.core.DiskFullException.class, () -> opt.save(target));
                    }
                    assertTrue(e.getMessage().startsWith("no space left on device writing " + target), e.getMessage());
                    try (var left = java.nio.file.Files.list(dir)) {
                        assertEquals(List.of(), left.toList(), "budget " + budget + ": nothing is left behind");
                    }
                }
                try (var roomy = org.qoft4j.core.FileWrites.failAfter(size)) {
                    opt.save(dir.resolve(AdapterOptimizer.FILE)); // exactly enough room
                }
                assertArrayEquals(java.nio.file.Files.readAllBytes(whole), java.nio.file.Files.readAllBytes(dir.resolve(AdapterOptimizer.FILE)));
            }
        }
    }

    /** Checkpoints written before the archive was streamed through Java (libtorch's save_to(file)) still load and continue exactly. */
    @Test
    void archivesWrittenByLibtorchItselfStillLoad() {
        TrainConfig c = options();
        Path file = tmp.resolve("old-" + AdapterOptimizer.FILE), ours = tmp.resolve(AdapterOptimizer.FILE);
        try (PointerScope scope = new PointerScope()) {
            Tensor p = Tensors.of(new float[] {1f, -2f}, 2).set_requires_grad(true);
            Tensor q, r;
            try (AdapterOptimizer opt = new AdapterOptimizer(List.of(p), c)) {
                lossBackward(p);
                opt.step(0.1);
                org.bytedeco.pytorch.OutputArchive a = new org.bytedeco.pytorch.OutputArchive();
                opt.adamw().save(a);
                a.save_to(file.toString()); // how optimizer.pt was written before
                opt.save(ours);
                q = p.detach().clone().set_requires_grad(true);
                r = p.detach().clone().set_requires_grad(true);
                opt.zeroGrad();
                lossBackward(p);
                opt.step(0.1);
            }
            for (Object[] resume : new Object[][] {{q, file}, {r, ours}})
                try (AdapterOptimizer resumed = new AdapterOptimizer(List.of((Tensor) resume[0]), c)) {
                    resumed.load((Path) resume[1]);
                    resumed.zeroGrad();
                    lossBackward((Tensor) resume[0]);
                    resumed.step(0.1);
                }
            assertArrayEquals(Tensors.toFloats(p), Tensors.toFloats(q), 0f);
            assertArrayEquals(Tensors.toFloats(p), Tensors.toFloats(r), 0f);
        }
    }

    @Test
    void aMissingStateFileIsAClearError() {
        try (PointerScope scope = new PointerScope(); AdapterOptimizer opt = new AdapterOptimizer(List.of(Tensors.of(new float[] {1f}, 1).set_requires_grad(true)), options())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> opt.load(tmp.resolve("nope.pt")));
            assertTrue(e.getMessage().contains("nope.pt"), e.getMessage());
        }
    }
}
