package org.qoft4j.bench.experiments;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.CpuThreads;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.OftLayer;
import org.qoft4j.model.RmsNorm;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.kernel.Kernels;
import org.qoft4j.quant.linear.QuantizedLinear;

/**
 * Where a bf16 training step spends its time on the CPU, against fp32 (issue 12): the parts of one decoder layer of
 * the {@code d1024} bench model (hidden 1024, MLP 2816, 16 heads) on {@code [1, T, 1024]} activations, each timed
 * forward + backward with the project's own classes (NF4 {@link QuantizedLinear} with its re-dequantization in
 * backward, {@link OftLayer} with fp32 rotations, {@link RmsNorm}, attention computed in fp32 as DecoderLayer does on
 * the CPU). Prints one line per part: median ms in fp32 and bf16 and their ratio.
 *
 * <p>Arguments: {@code [threads (default 1)] [T (default 512)] [reps (default 7)]}. Run with
 * {@code java -cp "$(cat cli/target/runtime-classpath.txt):bench/target/classes:cli/target/classes"
 * org.qoft4j.bench.experiments.CpuBf16Profile 2 512}.
 */
public final class CpuBf16Profile {
    private static final long D = 1024, FF = 2816, HEADS = 16, HD = 64;

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        long t = args.length > 1 ? Long.parseLong(args[1]) : 512;
        int reps = args.length > 2 ? Integer.parseInt(args[2]) : 7;
        CpuThreads.use(threads);
        torch.manual_seed(1);
        Map<String, double[]> ms = new LinkedHashMap<>();
        List<ScalarType> dts = List.of(ScalarType.Float, ScalarType.BFloat16);
        for (int d = 0; d < 2; d++) {
            ScalarType dt = dts.get(d);
            try (PointerScope scope = new PointerScope()) {
                Parts p = new Parts(dt, t);
                for (Map.Entry<String, Runnable> e : p.parts().entrySet())
                    ms.computeIfAbsent(e.getKey(), k -> new double[2])[d] = median(e.getValue(), reps);
                p.close();
            }
        }
        System.out.printf(Locale.ROOT, "# d1024 layer parts, forward + backward, [1, %d, %d], %d thread(s), kernel %s%n", t, D, threads,
                Kernels.dequantizer().name());
        System.out.printf(Locale.ROOT, "%-48s %10s %10s %8s%n", "part", "fp32 ms", "bf16 ms", "bf16/fp32");
        for (Map.Entry<String, double[]> e : ms.entrySet())
            System.out.printf(Locale.ROOT, "%-48s %10.2f %10.2f %8.2f%n", e.getKey(), e.getValue()[0], e.getValue()[1], e.getValue()[1] / e.getValue()[0]);
    }

    /** The median wall time of {@code reps} calls after two warm-up calls, in ms; each call in its own scope. */
    static double median(Runnable r, int reps) {
        for (int i = 0; i < 2; i++) try (PointerScope s = new PointerScope()) { r.run(); }
        double[] v = new double[reps];
        for (int i = 0; i < reps; i++) {
            try (PointerScope s = new PointerScope()) {
                long t0 = System.nanoTime();
                r.run();
                v[i] = (System.nanoTime() - t0) / 1e6;
            }
        }
        Arrays.sort(v);
        return v[reps / 2];
    }

    /** One layer's parts in {@code dt}. */
    private static final class Parts implements AutoCloseable {
        final ScalarType dt;
        final long t;
        final List<QuantizedLinear> bases = new ArrayList<>();
        final List<OftLayer> adapted = new ArrayList<>();
        final List<Tensor> dense = new ArrayList<>();
        final RmsNorm norm;

        Parts(ScalarType dt, long t) {
            this.dt = dt;
            this.t = t;
            long[][] shapes = {{D, D}, {D, D}, {D, D}, {D, D}, {FF, D}, {FF, D}, {D, FF}}; // q k v o gate up down: [out, in]
            for (long[] s : shapes) {
                Tensor w = torch.randn(s, new TensorOptions(ScalarType.Float)).mul(new Scalar(0.02));
                QuantizedLinear q = QuantizedLinear.quantize(w.to(dt), null, QuantSpec.nf4());
                bases.add(q);
                adapted.add(new OftLayer(q, OftConfig.defaults()));
                dense.add(w.to(dt).retainReference());
            }
            norm = new RmsNorm(torch.ones(new long[] {D}, new TensorOptions(dt)), 1e-5);
        }

        Tensor input(long width) {
            return torch.randn(new long[] {1, t, width}, new TensorOptions(ScalarType.Float)).to(dt).requires_grad_(true);
        }

        static void backward(Tensor y) {
            torch.backward(new TensorVector(y), new TensorVector(torch.ones_like(y)), new BoolOptional(false), false, new TensorVector());
        }

        Map<String, Runnable> parts() {
            Map<String, Runnable> m = new LinkedHashMap<>();
            m.put("7 dense matmuls (weights in the compute dtype)", () -> {
                for (Tensor w : dense) backward(torch.matmul(input(w.size(1)), w.t()));
            });
            m.put("7 NF4 layers (dequantize, matmul; again in bwd)", () -> {
                for (QuantizedLinear q : bases) backward(q.forward(input(q.inFeatures())));
            });
            m.put("7 NF4 layers with OFT (fp32 rotation, casts)", () -> {
                for (int i = 0; i < adapted.size(); i++) backward(adapted.get(i).forward(input(bases.get(i).inFeatures())));
            });
            m.put("14 NF4 dequantizations (fwd + bwd)", () -> {
                for (QuantizedLinear q : bases) {
                    Tensor out = torch.empty(new long[] {q.outFeatures(), q.inFeatures()}, new TensorOptions(dt), null);
                    for (int i = 0; i < 2; i++) Kernels.dequantizeInto(q.weight(), out);
                }
            });
            m.put("2 RMSNorms", () -> {
                for (int i = 0; i < 2; i++) backward(norm.forward(input(D)));
            });
            m.put("attention, fp32 inside (as DecoderLayer on CPU)", () -> {
                Tensor q = qkv(), k = qkv(), v = qkv();
                boolean up = dt != ScalarType.Float;
                Tensor a = torch.scaled_dot_product_attention(up ? q.to(ScalarType.Float) : q, up ? k.to(ScalarType.Float) : k,
                        up ? v.to(ScalarType.Float) : v, new TensorOptional(), 0.0, true, new DoubleOptional(), false);
                backward(up ? a.to(dt) : a);
            });
            m.put("attention in the compute dtype", () -> {
                Tensor a = torch.scaled_dot_product_attention(qkv(), qkv(), qkv(), new TensorOptional(), 0.0, true, new DoubleOptional(), false);
                backward(a);
            });
            m.put("SiLU(gate) * up", () -> {
                Tensor g = input(FF), u = input(FF);
                backward(torch.silu(g).mul(u));
            });
            m.put("2 residual adds", () -> {
                Tensor a = input(D), b = input(D);
                backward(a.add(b).add(a));
            });
            return m;
        }

        Tensor qkv() {
            return torch.randn(new long[] {1, HEADS, t, HD}, new TensorOptions(ScalarType.Float)).to(dt).requires_grad_(true);
        }

        @Override
        public void close() {
            adapted.forEach(OftLayer::close); // the rotations; the bases are ours
            bases.forEach(QuantizedLinear::close);
            QuantizedLinear.releaseWorkspace();
            dense.forEach(Tensor::releaseReference);
            norm.close();
        }
    }
}
