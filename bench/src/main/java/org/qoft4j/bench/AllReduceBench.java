package org.qoft4j.bench;

import java.nio.file.Path;
import org.qoft4j.core.CpuThreads;
import org.qoft4j.trainer.dist.DataParallelGroup;
import org.qoft4j.trainer.dist.DistEnv;
import org.qoft4j.trainer.dist.DistOptions;
import org.qoft4j.trainer.dist.LaunchPlan;
import org.qoft4j.trainer.dist.Launcher;
import org.qoft4j.trainer.dist.PendingAllReduce;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * All-reduce time and throughput between worker processes on this machine (loopback), for adapter-sized fp32
 * buckets, and how much of an asynchronous all-reduce a concurrent computation hides. Run without the torchrun
 * environment it launches {@code --nproc} workers of itself ({@link Launcher}) and rank 0 prints the table:
 * <pre>
 *   java -cp ... org.qoft4j.trainer.dist.AllReduceBench [--nproc 2] [--sizes-mb 1,8,64] [--iters 20] [--logs DIR]
 * </pre>
 * Per size: the median time of a c10d all-reduce of one flat tensor ({@code raw}); of {@link
 * DataParallelGroup#allReduceSum(List)} on 16 tensors of that total size (copy into the bucket, all-reduce, copy
 * back: what training pays); algorithm bandwidth = bytes / time, and bus bandwidth = algorithm bandwidth x 2(n-1)/n
 * (the bytes each rank sends and receives in a ring, as nccl-tests report it). Then, at 8 MiB: a matmul alone, the
 * all-reduce alone, and both with the all-reduce launched asynchronously before the matmul; hidden = the share of the
 * all-reduce time that did not add to the step.
 */
public final class AllReduceBench {
    private AllReduceBench() {}

    public static void main(String[] args) throws Exception {
        int nproc = 2, iters = 20;
        long[] sizesMb = {1, 8, 64};
        Path logs = Path.of("target", "allreduce-bench-logs");
        List<String> passOn = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--nproc" -> nproc = Integer.parseInt(args[++i]);
                case "--iters" -> {
                    iters = Integer.parseInt(args[++i]);
                    passOn.addAll(List.of("--iters", args[i]));
                }
                case "--sizes-mb" -> {
                    sizesMb = Arrays.stream(args[++i].split(",")).mapToLong(Long::parseLong).toArray();
                    passOn.addAll(List.of("--sizes-mb", args[i]));
                }
                case "--logs" -> logs = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i] + "; options: --nproc N --sizes-mb 1,8,64 --iters N --logs DIR");
            }
        }
        var env = DistEnv.fromEnvironment(System.getenv());
        if (env.isEmpty()) {
            Launcher.of(LaunchPlan.standalone(nproc), logs).run(AllReduceBench.class.getName(), passOn);
            return;
        }
        worker(env.get(), sizesMb, iters);
        System.exit(0);
    }

    private static void worker(DistEnv env, long[] sizesMb, int iters) {
        CpuThreads.use(Runtime.getRuntime().availableProcessors());
        DistOptions o = DistOptions.defaults().withBackend(DistOptions.Backend.GLOO).withCollectiveTimeout(Duration.ofMinutes(2));
        try (DataParallelGroup g = DataParallelGroup.join(env, o.withBucketBytes(Long.MAX_VALUE / 2))) {
            if (env.master()) {
                System.out.printf(Locale.ROOT, "all-reduce (sum, fp32) between %d processes on loopback, Gloo, %d thread(s) each, median of %d%n",
                        env.worldSize(), Runtime.getRuntime().availableProcessors(), iters);
                System.out.println("| size | raw c10d all-reduce | alg. bandwidth | bus bandwidth | bucketed path (16 tensors) |");
                System.out.println("|---:|---:|---:|---:|---:|");
            }
            double busFactor = 2.0 * (env.worldSize() - 1) / env.worldSize();
            for (long mb : sizesMb) {
                long n = mb * (1L << 20) / 4;
                double raw, bucketed;
                try (PointerScope s = new PointerScope()) {
                    Tensor flat = torch.ones(n);
                    raw = median(iters, () -> g.allReduceInPlace(flat));
                    List<Tensor> parts = new ArrayList<>();
                    for (int i = 0; i < 16; i++) parts.add(torch.ones(n / 16));
                    bucketed = median(iters, () -> g.allReduceSum(parts));
                }
                if (env.master()) {
                    double bytes = mb * (double) (1L << 20);
                    System.out.printf(Locale.ROOT, "| %d MiB | %.2f ms | %.2f GB/s | %.2f GB/s | %.2f ms |%n", mb, raw * 1e3, bytes / raw / 1e9,
                            bytes / raw / 1e9 * busFactor, bucketed * 1e3);
                }
            }
            overlap(g, env, iters);
            g.barrier();
        }
    }

    /** A matmul alone, an 8 MiB all-reduce alone, and the two together with the all-reduce in flight. */
    private static void overlap(DataParallelGroup g, DistEnv env, int iters) {
        try (PointerScope s = new PointerScope()) {
            Tensor a = torch.randn(512, 512), grad = torch.ones(2L << 20);
            List<Tensor> grads = List.of(grad);
            Runnable compute = () -> {
                try (PointerScope c = new PointerScope()) {
                    Tensor x = a;
                    for (int i = 0; i < 4; i++) x = torch.mm(x, a).div_(new org.bytedeco.pytorch.Scalar(512));
                    x.sum().item_float();
                }
            };
            // the three are interleaved, so that a busy machine's drift hits each alike
            for (int i = 0; i < 3; i++) {
                compute.run();
                g.allReduceSum(grads);
            }
            double[] c = new double[iters], r = new double[iters], b = new double[iters];
            for (int i = 0; i < iters; i++) {
                long t0 = System.nanoTime();
                compute.run();
                long t1 = System.nanoTime();
                g.allReduceSum(grads);
                long t2 = System.nanoTime();
                try (PendingAllReduce p = g.allReduceSumAsync(grads)) {
                    compute.run();
                    p.await();
                }
                long t3 = System.nanoTime();
                c[i] = (t1 - t0) / 1e9;
                r[i] = (t2 - t1) / 1e9;
                b[i] = (t3 - t2) / 1e9;
            }
            double tc = median(c), ta = median(r), both = median(b);
            double hidden = Math.max(0, Math.min(1, (tc + ta - both) / ta));
            if (env.master())
                System.out.printf(Locale.ROOT, "overlap, 8 MiB all-reduce + 4 matmuls of 512x512: compute %.2f ms, all-reduce %.2f ms, "
                        + "both (async) %.2f ms: %.0f%% of the all-reduce hidden%n", tc * 1e3, ta * 1e3, both * 1e3, hidden * 100);
        }
    }

    private static double median(double[] t) {
        double[] s = t.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static double median(int iters, Runnable r) {
        for (int i = 0; i < 3; i++) r.run();  // warm-up: connections, allocator, JIT
        double[] t = new double[iters];
        for (int i = 0; i < iters; i++) {
            long t0 = System.nanoTime();
            r.run();
            t[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(t);
        return t[iters / 2];
    }
}
