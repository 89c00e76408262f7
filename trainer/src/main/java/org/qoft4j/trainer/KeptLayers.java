package org.qoft4j.trainer;

import java.util.Locale;
import java.util.OptionalLong;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.Human;
import org.qoft4j.core.memory.CudaMemory;
import org.qoft4j.core.memory.FreeMemory;
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
 * instead of recomputing them in backward (option {@code memory-budget}; docs/DESIGN.md, "Memory policy"). The top
 * layer always keeps its graph: backward needs exactly that graph first, so keeping it costs no peak. How much one
 * layer's graph holds is measured on the first micro-batch, from the top layer (the C heap's live bytes on the CPU,
 * the CUDA allocator's on a GPU); from the second micro-batch on, the plan keeps
 * <ul>
 *   <li>{@code lean}: the top layer only, and freed memory returned to the OS after each layer on the CPU
 *       ({@link RecomputeStep}): the smallest peak;</li>
 *   <li>{@code auto} (the default): as many layers as fit in half of the memory still free on the device after the
 *       first step ({@link FreeMemory}; on the CPU shared with the other processes of a data-parallel run on this
 *       machine), and never fewer than fit in one layer's weights in the compute dtype — the memory a recomputed
 *       layer held before 4-bit layers learned to dequantize again in backward — so a user gets speed when memory
 *       is free and lean recomputation's peak when it is not;</li>
 *   <li>a size ({@code 12GiB}): as many as keep the predicted peak (the first step's peak, resident on the CPU,
 *       allocated on CUDA, plus one graph's cost per further layer, {@link #CPU_COST_PER_GRAPH_BYTE}) within it.</li>
 * </ul>
 * A graph grows with the micro-batch: the count is taken per micro-batch from the measured graph scaled by tokens
 * (rows x length) and once more by length where it exceeds the measured one (attention's part grows with its
 * square), so a longer batch than the first keeps fewer layers instead of running out of memory.
 * Where the graph cannot be measured (no glibc {@code mallinfo2}) the plan stays lean.
 */
final class KeptLayers {
    private static final Logger LOG = LoggerFactory.getLogger(KeptLayers.class);
    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]i?b?|b)?", Pattern.CASE_INSENSITIVE);
    /** Share of the free memory {@code auto} may fill with graphs: the rest is for everything else on the machine. */
    static final double AUTO_SHARE = 0.5;
    /**
     * What keeping one more graph adds to the peak, over the live bytes measured for it. On the CPU the peak is
     * resident memory, which grew by at least 1.65x the live bytes per kept graph on d1024 (8 kept: ≥ 504 MiB over
     * the first step's peak for 7 graphs of 43.6 MiB; docs/BENCHMARKS.md, "Training-step efficiency"): freed
     * temporaries between kept tensors are not reused. On CUDA the peak is allocated bytes; the margin is for fragmentation.
     */
    static final double CPU_COST_PER_GRAPH_BYTE = 2.0, CUDA_COST_PER_GRAPH_BYTE = 1.25;

    private final LlamaModel model;
    private final ScalarType dtype;
    private final String budget;
    private final int adaptable; // layers from the lowest adapted one to the top
    private long graphBytes = -1; // measured: one layer's graph
    private long graphCost; // what keeping one more adds to the peak
    private int measuredRows, measuredLength; // the micro-batch it was measured on
    private long allowedBytes = -1; // all kept graphs together, at the measured micro-batch's size
    private int fixedLayers = 1;
    private boolean returnsFreed; // lean only
    private int lastLogged = -1;

    KeptLayers(LlamaModel model, ScalarType computeDtype, String budget, int adaptable) {
        this.model = model;
        this.dtype = computeDtype;
        this.budget = parseCheck(budget);
        this.adaptable = Math.max(1, adaptable);
        this.returnsFreed = this.budget.equals("lean");
    }

    /** Top layer only. */
    static KeptLayers lean(LlamaModel model) {
        return new KeptLayers(model, ScalarType.Float, "lean", model.numLayers());
    }

    /** Exactly the top {@code layers} (at least 1), unmeasured: for tests and benchmarks. */
    static KeptLayers fixed(LlamaModel model, int layers) {
        KeptLayers k = new KeptLayers(model, ScalarType.Float, "lean", model.numLayers());
        k.fixedLayers = Math.max(1, layers);
        k.returnsFreed = false;
        return k;
    }

    /** {@code lean}: the smallest peak, so the step also returns freed memory to the OS after each layer. */
    boolean returnsFreedMemory() {
        return returnsFreed;
    }

    /** Layers to keep for a micro-batch of {@code rows x length} tokens (planned once the first measurement exists). */
    int layers(int rows, int length) {
        if (graphBytes <= 0) return fixedLayers;
        if (allowedBytes < 0) allowedBytes = plan();
        int n = count(allowedBytes, graphCost, measuredRows, measuredLength, rows, length, adaptable);
        if (n != lastLogged) {
            LOG.info("recomputation: one layer's graph holds {} at {} x {} tokens; memory-budget {} keeps the top {} of {} layers' graphs{}",
                    Human.bytes(graphBytes), measuredRows, measuredLength, budget, n, adaptable,
                    rows == measuredRows && length == measuredLength ? "" : " (for " + rows + " x " + length + " tokens)");
            lastLogged = n;
        }
        return n;
    }

    /**
     * Graphs that fit in {@code allowedBytes} for a micro-batch of {@code rows x length}, one graph having cost
     * {@code graphCost} at {@code measuredRows x measuredLength}: scaled by tokens, and by length once more where
     * it grew (attention's share grows with its square); at least 1, at most {@code adaptable}.
     */
    static int count(long allowedBytes, long graphCost, int measuredRows, int measuredLength, int rows, int length, int adaptable) {
        double grow = (double) rows * length / ((double) measuredRows * measuredLength) * Math.max(1.0, (double) length / measuredLength);
        return (int) Math.max(1, Math.min(adaptable, (long) (allowedBytes / (graphCost * grow))));
    }

    /**
     * What {@code auto} lets all kept graphs cost: one graph plus {@link #AUTO_SHARE} of the free memory left once
     * the first step's transient peak is accounted ({@code peakBytes - nowBytes} is taken again every step), split
     * between {@code processes} sharing it; never less than {@code floorBytes}.
     */
    static long autoAllowance(long graphCost, long floorBytes, long freeBytes, long peakBytes, long nowBytes, int processes) {
        long room = Math.max(0, freeBytes - Math.max(0, peakBytes - nowBytes));
        return Math.max(floorBytes, graphCost + (long) (room * AUTO_SHARE / Math.max(1, processes)));
    }

    /** Runs the top layer's forward with grad and, the first time, measures what its graph holds. */
    <T> T measureTop(Supplier<T> forward, int rows, int length) {
        if (graphBytes >= 0 || budget.equals("lean")) return forward.get();
        Device d = model.device();
        boolean cuda = d.is_cuda();
        if (!cuda && !NativeHeap.available()) {
            graphBytes = 0;
            return forward.get();
        }
        if (!cuda) settleGarbage();
        long before = cuda ? CudaMemory.allocatedBytes(d) : NativeHeap.liveBytes();
        T out = forward.get();
        long after = cuda ? CudaMemory.allocatedBytes(d) : NativeHeap.liveBytes();
        graphBytes = Math.max(0, after - before);
        measuredRows = rows;
        measuredLength = length;
        return out;
    }

    /**
     * Frees native memory whose Java objects are already garbage, so that it is not freed in the middle of the
     * measurement: JavaCPP frees a collected tensor's memory from a background thread, and what model loading left
     * behind (13 MB seen on a 2-layer test model) would otherwise make a graph look smaller than it is, or negative.
     */
    private static void settleGarbage() {
        System.gc();
        try {
            Thread.sleep(50); // the reference handler enqueues what the collection found
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Pointer.deallocateReferences();
    }

    /** What all kept graphs together may add to the peak at the measured micro-batch's size (in graph costs). */
    private long plan() {
        Device d = model.device();
        boolean cuda = d.is_cuda();
        long peak = cuda ? CudaMemory.peakAllocatedBytes(d) : ResidentMemory.peakBytes();
        graphCost = (long) Math.ceil(graphBytes * (cuda ? CUDA_COST_PER_GRAPH_BYTE : CPU_COST_PER_GRAPH_BYTE));
        if (!budget.equals("auto")) return graphCost + Math.max(0, parseSize(budget) - peak);
        long floor = graphCost + (hasQuantizedBase() ? layerWeightBytes() : 0);
        OptionalLong free = FreeMemory.availableBytes(d);
        if (free.isEmpty()) {
            LOG.info("recomputation: free memory on {} is unknown; memory-budget auto keeps what lean recomputation's peak allows", d.str().getString());
            return floor;
        }
        long now = cuda ? CudaMemory.allocatedBytes(d) : ResidentMemory.currentBytes();
        long allowed = autoAllowance(graphCost, floor, free.getAsLong(), peak, now, cuda ? 1 : processesOnThisMachine());
        LOG.info("recomputation: {} free on {} after the first step; memory-budget auto lets kept graphs hold {}", Human.bytes(free.getAsLong()),
                cuda ? "the GPU" : "this machine", Human.bytes(allowed));
        return allowed;
    }

    /** Processes of a data-parallel run on this machine ({@code LOCAL_WORLD_SIZE}); their CPU graphs share its memory. */
    private static int processesOnThisMachine() {
        try {
            return Math.max(1, Integer.parseInt(System.getenv().getOrDefault("LOCAL_WORLD_SIZE", "1").trim()));
        } catch (NumberFormatException e) {
            return 1;
        }
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
