package org.qoft4j.core;

import org.bytedeco.openblas.presets.openblas_nolapack;
import org.bytedeco.pytorch.global.torch;

/**
 * The CPU threads of a process, in one place: libtorch's intra-op pool (OpenMP) and OpenBLAS's own pool, which does
 * libtorch's matrix products on the CPU and which {@code torch.set_num_threads} does not touch. Left alone,
 * OpenBLAS runs one thread per core whatever the training's {@code threads} says, and its threads spin between
 * calls: measured on the project's 2-core machine (docs/BENCHMARKS.md, "Training-step efficiency"), two trainings
 * at once each ran 50x slower than alone, and a {@code threads=1} run kept both cores busy.
 */
public final class CpuThreads {
    static {
        OpenMp.preferPassiveWaiting(); // before libtorch loads: libgomp reads it once
    }

    private CpuThreads() {}

    /** Runs libtorch's and OpenBLAS's pools with {@code n} threads each (n ≥ 1). */
    public static void use(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be at least 1, got " + n);
        torch.set_num_threads(n);
        openblas_nolapack.blas_set_num_threads(n);
    }
}
