package org.qoft4j.trainer.dist;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.core.Tensors;

/**
 * A worker for {@link DataParallelGroupTest}, run in child JVMs with the torchrun environment set:
 * {@code GroupProbe collectives OUT_DIR} runs every collective against values it can also compute alone and writes
 * what it saw to {@code OUT_DIR/rank-K.properties}; {@code GroupProbe fault OUT_DIR TIMEOUT_MS} joins, marks itself
 * ready, and all-reduces in a loop until the group fails, then writes the failure to {@code OUT_DIR/fault-rank-K.txt}.
 */
public final class GroupProbe {
    /** Sizes (elements) of the bucketed all-reduce: mixed, one above the 64 KiB test bucket cap (16384 floats). */
    static final int[] SIZES = {1, 7, 1000, 33, 40_000, 3, 16_384, 12, 5_000, 2, 9_999, 100};
    static final long TEST_BUCKET_BYTES = 64 << 10;

    public static void main(String[] args) throws Exception {
        DistEnv env = DistEnv.fromEnvironment(System.getenv()).orElseThrow(() -> new IllegalStateException("no torchrun environment"));
        Path out = Path.of(args[1]);
        switch (args[0]) {
            case "collectives" -> collectives(env, out);
            case "fault" -> fault(env, out, Duration.ofMillis(Long.parseLong(args[2])));
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    private static void collectives(DistEnv env, Path out) throws IOException {
        Properties p = new Properties();
        p.setProperty("availableProcessors", Integer.toString(Runtime.getRuntime().availableProcessors()));
        p.setProperty("OMP_NUM_THREADS", String.valueOf(System.getenv("OMP_NUM_THREADS")));
        p.setProperty("env", env.toString());
        int w = env.worldSize(), r = env.rank();
        try (DataParallelGroup g = DataParallelGroup.join(env, DistOptions.defaults().withBackend(DistOptions.Backend.GLOO)
                .withCollectiveTimeout(Duration.ofSeconds(30)).withJoinTimeout(Duration.ofSeconds(60)).withBucketBytes(TEST_BUCKET_BYTES));
             PointerScope outer = new PointerScope()) {
            p.setProperty("backend", g.backend().name());

            // 1. known values: a = r + 1 everywhere, b = (r + 1) * [0, 1, 2, 3, 4]; sums are W(W+1)/2 * the same
            Tensor a = torch.full(new long[] {3, 4}, new org.bytedeco.pytorch.Scalar(r + 1.0));
            Tensor b = torch.arange(new org.bytedeco.pytorch.Scalar(5)).to(torch.ScalarType.Float).mul(new org.bytedeco.pytorch.Scalar(r + 1.0));
            g.allReduceSum(List.of(a, b));
            double tri = w * (w + 1) / 2.0;
            p.setProperty("known.a", Arrays.toString(Tensors.toFloats(a)));
            p.setProperty("known.b", Arrays.toString(Tensors.toFloats(b)));
            p.setProperty("known.expectedA", Double.toString(tri));

            // 2. bucketed asynchronous all-reduce of mixed sizes, a float64 tensor in the middle and a transposed
            //    (non-contiguous) one, launched inside a scope that closes before await: the handle must keep its own
            //    references. Expected: the sum of every rank's values, computed here from the same seeds.
            List<Tensor> mine = new ArrayList<>();
            PendingAllReduce pending;
            try (PointerScope inner = new PointerScope()) {
                for (int i = 0; i < SIZES.length; i++) mine.add(values(r, i).retainReference());
                mine.add(3, Tensors.of(doubles(r, 99, 17), 17).retainReference());
                mine.add(6, values(r, 98, 12 * 5).view(12, 5).t().retainReference());
                pending = g.allReduceSumAsync(mine);
            }
            try (PointerScope busy = new PointerScope()) {  // work while the buckets travel
                torch.mm(torch.ones(200, 200), torch.ones(200, 200)).sum().item_float();
            }
            pending.await();
            double maxErr = 0, maxAbs = 0;
            for (int i = 0, k = 0; i < mine.size(); i++) {
                Tensor expected;
                if (i == 3) {
                    double[] sum = new double[17];
                    for (int q = 0; q < w; q++) {
                        double[] d = doubles(q, 99, 17);
                        for (int j = 0; j < 17; j++) sum[j] += d[j];
                    }
                    expected = Tensors.of(sum, 17);
                } else if (i == 6) {
                    expected = values(0, 98, 60);
                    for (int q = 1; q < w; q++) expected = expected.add(values(q, 98, 60));
                    expected = expected.view(12, 5).t();
                } else {
                    expected = values(0, k);
                    for (int q = 1; q < w; q++) expected = expected.add(values(q, k));
                    k++;
                }
                maxErr = Math.max(maxErr, mine.get(i).sub(expected).abs().max().item_double());
                maxAbs = Math.max(maxAbs, expected.abs().max().item_double());
            }
            for (Tensor t : mine) t.releaseReference();
            p.setProperty("bucketed.tensors", Integer.toString(mine.size()));
            p.setProperty("bucketed.buckets", Integer.toString(pending.bucketCount()));
            p.setProperty("bucketed.bytes", Long.toString(pending.bytes()));
            p.setProperty("bucketed.maxAbsError", Double.toString(maxErr));
            p.setProperty("bucketed.maxAbsValue", Double.toString(maxAbs));
            pending.close();

            // 3. scalars: token counts and a large integer stay exact
            double[] s = g.allReduceSum(r + 1, 1000.0 * (r + 1), (double) (1L << 40) + r);
            p.setProperty("scalars", s[0] + "," + s[1] + "," + (long) s[2]);

            // 4. broadcast from rank 0 into a parameter (a leaf that requires grad) and a plain tensor
            Tensor param = torch.full(new long[] {4}, new org.bytedeco.pytorch.Scalar(10.0 + r)).set_requires_grad(true);
            Tensor plain = torch.full(new long[] {2, 3}, new org.bytedeco.pytorch.Scalar(-1.0 - r));
            g.broadcast(List.of(param, plain), 0);
            p.setProperty("broadcast.param", Arrays.toString(Tensors.toFloats(param)));
            p.setProperty("broadcast.plain", Arrays.toString(Tensors.toFloats(plain)));
            p.setProperty("broadcast.paramRequiresGrad", Boolean.toString(param.requires_grad()));

            // 5. all-gathers
            p.setProperty("gather.long", Arrays.toString(g.allGather(7L * r + 1)));
            List<byte[]> strings = g.allGather(("rank-" + r + "x".repeat(r * 3)).getBytes(StandardCharsets.UTF_8));
            List<String> decoded = new ArrayList<>();
            for (byte[] bs : strings) decoded.add(new String(bs, StandardCharsets.UTF_8));
            p.setProperty("gather.bytes", String.join("|", decoded));

            // 6. agreement checks: a common value passes, a rank-specific one fails on every rank
            g.requireSameOnAllRanks("model files hash", sha256("the same model"));
            p.setProperty("same.ok", "true");
            try {
                g.requireSameOnAllRanks("configuration hash", sha256(r == 0 ? "lr=1e-4" : "lr=2e-4"));
                p.setProperty("mismatch", "not detected");
            } catch (RanksDisagreeException e) {
                p.setProperty("mismatch", e.getMessage());
            }

            // 7. a barrier, and the group still works after the mismatch (it is not a collective failure)
            g.barrier();
            p.setProperty("barrier", "passed");
            p.setProperty("stats", g.stats().toString());
        }
        Path tmp = out.resolve("rank-" + env.rank() + ".properties.tmp");
        try (var wr = Files.newBufferedWriter(tmp)) {
            p.store(wr, null);
        }
        Files.move(tmp, out.resolve("rank-" + env.rank() + ".properties"));
    }

    private static void fault(DistEnv env, Path out, Duration timeout) throws IOException {
        DistOptions o = DistOptions.defaults().withBackend(DistOptions.Backend.GLOO).withCollectiveTimeout(timeout)
                .withJoinTimeout(Duration.ofSeconds(60)).withFaultReportWait(Duration.ofSeconds(1));
        try (DataParallelGroup g = DataParallelGroup.join(env, o); PointerScope scope = new PointerScope()) {
            Tensor t = torch.ones(1000);
            g.allReduceSum(List.of(t));
            Path tmp = out.resolve("ready-" + env.rank() + ".tmp");
            Files.writeString(tmp, Long.toString(ProcessHandle.current().pid()));
            Files.move(tmp, out.resolve("ready-" + env.rank()));
            long lastOk = System.nanoTime();
            try {
                while (true) {
                    try (PointerScope step = new PointerScope()) {
                        g.allReduceSum(List.of(torch.ones(1000)));
                    }
                    lastOk = System.nanoTime();
                    Thread.sleep(20);
                }
            } catch (CollectiveFailedException e) {
                Files.writeString(out.resolve("fault-rank-" + env.rank() + ".txt"), String.format(Locale.ROOT, "%.3f%n%s%n%s",
                        (System.nanoTime() - lastOk) / 1e9, e.lostRanks(), e.getMessage()));
                System.exit(3);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** Rank r's values for tensor i of SIZES: reproducible in any process. */
    static Tensor values(int r, int i) {
        return values(r, i, SIZES[i]);
    }

    static Tensor values(int r, int i, int n) {
        Random rnd = new Random(1000L * r + i);
        float[] v = new float[n];
        for (int j = 0; j < n; j++) v[j] = (float) rnd.nextGaussian();
        return Tensors.of(v, n);
    }

    static double[] doubles(int r, int i, int n) {
        Random rnd = new Random(7000L * r + i);
        double[] v = new double[n];
        for (int j = 0; j < n; j++) v[j] = rnd.nextGaussian();
        return v;
    }

    static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
