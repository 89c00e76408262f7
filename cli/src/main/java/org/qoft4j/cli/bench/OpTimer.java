package org.qoft4j.cli.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;

/**
 * Per-call wall times of a small operation, for benchmarks that are not JMH ({@code ./qoft4j bench}): warm-up calls,
 * then calls until {@code minSeconds} have passed (at least {@code minCalls}). On CUDA each call is synchronized, so
 * a sample is the kernel's time. Each call runs in its own PointerScope.
 */
public final class OpTimer {
    private OpTimer() {}

    /** Seconds per call: the fastest and the median sample. */
    public record Samples(double best, double median, int calls) {}

    public static Samples sample(Runnable op, boolean cuda, int warmup, int minCalls, double minSeconds) {
        for (int i = 0; i < warmup; i++) call(op, cuda);
        List<Double> s = new ArrayList<>();
        long start = System.nanoTime();
        while (s.size() < minCalls || System.nanoTime() - start < minSeconds * 1e9) s.add(call(op, cuda));
        double[] v = s.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(v);
        return new Samples(v[0], v[v.length / 2], v.length);
    }

    private static double call(Runnable op, boolean cuda) {
        long t0 = System.nanoTime();
        try (PointerScope scope = new PointerScope()) {
            op.run();
            if (cuda) torch.cuda_synchronize();
        }
        return (System.nanoTime() - t0) / 1e9;
    }
}
