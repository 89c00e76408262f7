package org.qoft4j.trainer;

import java.util.Locale;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.Human;
import org.qoft4j.core.memory.CudaMemory;
import org.qoft4j.core.memory.NativeHeap;
import org.qoft4j.core.memory.ResidentMemory;
import org.qoft4j.model.DecoderLayer;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.Projection;
import org.qoft4j.quant.linear.QuantizedLinear;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How many of the top decoder layers {@link RecomputeStep} runs with grad in its first pass and keeps the graph of,
 * instead of recomputing them in backward (option {@code memory-budget}; docs/DESIGN.md, "One training step"). The
 * top layer always keeps its graph: backward needs exactly that graph first, so keeping it costs no peak. How much
 * one layer's graph holds is measured on the first micro-batch, from the top layer (the C heap's live bytes on the
 * CPU, the CUDA allocator's on a GPU); from the second micro-batch on, the plan keeps
 * <ul>
 *   <li>{@code lean}: the top layer only;</li>
 *   <li>{@code auto}: as many layers as fit in one layer's graph plus one layer's weights in the compute dtype when
 *       the base is 4-bit — the memory a recomputed layer held before the 4-bit layers learned to dequantize again in
 *       backward ({@code QuantizedLinear}) — so the peak stays where layer-wise recomputation had it;</li>
 *   <li>a size ({@code 12GiB}): as many as keep the predicted peak (the first step's peak, resident on the CPU,
 *       allocated on CUDA, plus one graph per further layer) within it.</li>
 * </ul>
 * Where the graph cannot be measured (no glibc {@code mallinfo2}) the plan stays lean.
 */
final class KeptLayers {
    private static final Logger LOG = LoggerFactory.getLogger(KeptLayers.class);
    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]i?b?|b)?", Pattern.CASE_INSENSITIVE);

    private final LlamaModel model;
    private final ScalarType dtype;
    private final String budget;
    private final int adaptable; // layers from the lowest adapted one to the top
    private long graphBytes = -1; // measured one layer's graph
    private int layers = 1;
    private boolean planned;

    KeptLayers(LlamaModel model, ScalarType computeDtype, String budget, int adaptable) {
        this.model = model;
        this.dtype = computeDtype;
        this.budget = parseCheck(budget);
        this.adaptable = Math.max(1, adaptable);
    }

    /** Top layer only. */
    static KeptLayers lean(LlamaModel model) {
        return new KeptLayers(model, ScalarType.Float, "lean", model.numLayers());
    }

    /** Exactly the top {@code layers} (at least 1), unmeasured: for tests and benchmarks. */
    static KeptLayers fixed(LlamaModel model, int layers) {
        KeptLayers k = new KeptLayers(model, ScalarType.Float, "lean", model.numLayers());
        k.layers = Math.max(1, layers);
        k.planned = true;
        return k;
    }

    /** Layers to keep in this micro-batch (planned once the first measurement exists). */
    int layers() {
        if (!planned && graphBytes > 0) {
            layers = plan();
            planned = true;
            LOG.info("recomputation: one layer's graph holds {}; memory-budget {} keeps the top {} of {} layers' graphs", Human.bytes(graphBytes),
                    budget, layers, adaptable);
        }
        return layers;
    }

    /** Runs the top layer's forward with grad and, the first time, measures what its graph holds. */
    <T> T measureTop(Supplier<T> forward) {
        if (graphBytes >= 0 || budget.equals("lean")) return forward.get();
        Device d = model.device();
        boolean cuda = d.is_cuda();
        if (!cuda && !NativeHeap.available()) {
            graphBytes = 0;
            return forward.get();
        }
        long before = cuda ? CudaMemory.allocatedBytes(d) : NativeHeap.liveBytes();
        T out = forward.get();
        long after = cuda ? CudaMemory.allocatedBytes(d) : NativeHeap.liveBytes();
        graphBytes = Math.max(0, after - before);
        return out;
    }

    private int plan() {
        long allowed;
        if (budget.equals("auto")) {
            allowed = graphBytes + (hasQuantizedBase() ? layerWeightBytes() : 0);
        } else {
            long total = parseSize(budget);
            long peak = model.device().is_cuda() ? CudaMemory.peakAllocatedBytes(model.device()) : ResidentMemory.peakBytes();
            allowed = graphBytes + Math.max(0, total - peak);
        }
        return (int) Math.max(1, Math.min(adaptable, allowed / graphBytes));
    }

    private boolean hasQuantizedBase() {
        return model.layer(model.numLayers() - 1).projections().values().stream().anyMatch(p -> p.base() instanceof QuantizedLinear);
    }

    /** One decoder layer's 4-bit weights dequantized into the compute dtype: what a graph held for them before. */
    private long layerWeightBytes() {
        DecoderLayer top = model.layer(model.numLayers() - 1);
        long elementBytes = dtype == ScalarType.Float ? 4 : 2;
        long n = 0;
        for (Projection p : top.projections().values())
            if (p.base() instanceof QuantizedLinear q) n += q.inFeatures() * q.outFeatures() * elementBytes;
        return n;
    }

    /** {@code lean}, {@code auto} or a size; the value lower-cased, or an exception naming what is expected. */
    static String parseCheck(String budget) {
        String b = budget == null ? "" : budget.trim().toLowerCase(Locale.ROOT);
        if (b.equals("lean") || b.equals("auto")) return b;
        parseSize(b);
        return b;
    }

    /** Bytes of a size such as {@code 12GiB}, {@code 512MiB}, {@code 2g} (binary units; a bare number is bytes). */
    static long parseSize(String s) {
        Matcher m = SIZE.matcher(s.trim());
        if (!m.matches())
            throw new IllegalArgumentException("memory-budget must be lean, auto or a size such as 12GiB or 512MiB, got '" + s + "'");
        double v = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
        int shift = switch (unit.charAt(0)) {
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            case 't' -> 40;
            default -> 0;
        };
        return (long) (v * (1L << shift));
    }
}
