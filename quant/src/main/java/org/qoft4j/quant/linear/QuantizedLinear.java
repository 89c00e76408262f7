package org.qoft4j.quant.linear;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorBase;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.VoidTensorHook;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.quant.linear.Quantizer;
import org.qoft4j.quant.kernel.Kernels;

/**
 * A frozen linear layer whose weight is stored in 4 bits: {@code y = x W^T + b} with W dequantized on the
 * fly by the current kernel ({@link Kernels}) into a transient buffer in x's dtype (fp32, bf16 or fp16),
 * then one ordinary matmul (the vendor GEMM stays in charge). The layer keeps only the packed weight and
 * the bias; it never holds a dequantized weight between calls.
 *
 * <p>Memory, precisely:
 * <ul>
 *   <li><b>No grad needed</b> (inference, evaluation, the trainer's recomputation forward, or an input that does
 *   not require grad): W is dequantized into a workspace buffer shared by every QuantizedLinear on the same
 *   thread, one per (dtype, device), as large as the largest layer built so far; each shape views its start.
 *   Nothing saves it, so it is overwritten by the next layer; a forward pass holds at most one dequantized
 *   weight. {@link #releaseWorkspace()} frees the calling thread's buffers.</li>
 *   <li><b>Input requires grad</b>: the same workspace, and the matmul's autograd node keeps a reference to the
 *   workspace (an alias with its own version counter), not a copy. A hook on the matmul's output, which the
 *   autograd engine runs immediately before that node's backward, dequantizes this layer's weight into the
 *   workspace again, so {@code grad_x = grad_y W} sees the right W (the hook and the node run back to back, so
 *   another layer's dequantization into the same buffer, of any shape, cannot come between them). That is bitsandbytes' trick (dequantize again
 *   in backward) without a custom autograd function, which the presets cannot define: a graph holds no
 *   dequantized weight at all (docs/DESIGN.md, "Memory policy"). The cost is one more dequantization per weight
 *   per backward. W never requires grad and gets no gradient.</li>
 * </ul>
 * Consequence: {@link #releaseWorkspace()} must not run while a graph built through this layer is still to be
 * backpropagated.
 */
public final class QuantizedLinear implements LinearLayer, AutoCloseable {
    private final QuantizedWeight weight;
    private final Tensor bias; // [out] or null

    /** Per-thread workspaces keyed by (dtype, device). */
    private static final ThreadLocal<Map<List<Object>, Workspace>> WORKSPACE = ThreadLocal.withInitial(HashMap::new);
    /** Elements of the largest weight built so far: a workspace is allocated that large once, not grown shape by shape. */
    private static final AtomicLong LARGEST = new AtomicLong();

    /** Fills the workspace of the last grad forward with this layer's W again, right before the matmul's backward. */
    private final Redequantize redequantize = new Redequantize();

    /** Takes ownership of {@code weight} (closed by {@link #close()}) and of {@code bias} (retained; may be null). */
    public QuantizedLinear(QuantizedWeight weight, Tensor bias) {
        if (weight == null) throw new IllegalArgumentException("quantized weight is required");
        if (bias != null && (bias.dim() != 1 || bias.size(0) != weight.rows()))
            throw new IllegalArgumentException("bias must be [" + weight.rows() + "], got " + java.util.Arrays.toString(
                    org.qoft4j.core.Tensors.shape(bias)));
        if (bias != null && !bias.device().equals(weight.device()))
            throw new IllegalArgumentException("bias is on " + bias.device().str().getString() + " but the weight is on "
                    + weight.device().str().getString());
        this.weight = weight;
        this.bias = bias == null ? null : bias.detach().retainReference();
        LARGEST.accumulateAndGet(weight.rows() * weight.cols(), Math::max);
        redequantize.retainReference(); // outlives any PointerScope open now; released by close()
    }

    /** Quantizes {@code weight} [out, in] with {@code spec}; the full-precision tensor is not kept. */
    public static QuantizedLinear quantize(Tensor weight, Tensor bias, QuantSpec spec) {
        QuantizedWeight q = Quantizer.quantize(weight, spec);
        try {
            return new QuantizedLinear(q, bias);
        } catch (RuntimeException e) {
            q.close();
            throw e;
        }
    }

    public QuantizedWeight weight() {
        return weight;
    }

    @Override
    public long inFeatures() {
        return weight.cols();
    }

    @Override
    public long outFeatures() {
        return weight.rows();
    }

    @Override
    public Tensor forward(Tensor x) {
        ScalarType dt = x.scalar_type().intern();
        if (dt != ScalarType.Float && dt != ScalarType.BFloat16 && dt != ScalarType.Half)
            throw new IllegalArgumentException("4-bit linear input must be float32, bfloat16 or float16, got " + dt);
        if (x.dim() < 1 || x.size(-1) != inFeatures())
            throw new IllegalArgumentException("input has " + (x.dim() < 1 ? 0 : x.size(-1)) + " features, layer expects " + inFeatures());
        if (!x.device().equals(weight.device()))
            throw new IllegalArgumentException("input is on " + x.device().str().getString() + " but the weight is on "
                    + weight.device().str().getString());
        Workspace.View ws = workspace(dt).view(weight.rows(), weight.cols());
        Kernels.dequantizeInto(weight, ws.owner);
        Tensor y;
        if (GradMode.is_enabled() && x.requires_grad()) {
            // mm on 2-D, so that the hook sits on the mm node itself: nothing can overwrite the workspace between
            // the hook and the node's backward (the engine runs a node's pre-hooks and the node back to back)
            long[] shape = Tensors.shape(x);
            Tensor y2 = torch.mm(x.reshape(-1, shape[shape.length - 1]), ws.alias.t()); // [N, out]
            redequantize.target = ws.owner;
            y2.register_hook(redequantize);
            shape[shape.length - 1] = outFeatures();
            y = y2.view(shape);
        } else {
            y = torch.matmul(x, ws.alias.t());
        }
        if (bias != null) y = y.add(bias.scalar_type().intern() == dt ? bias : bias.to(dt));
        return y;
    }

    private Workspace workspace(ScalarType dt) {
        List<Object> key = List.of(dt, weight.device().str().getString());
        Map<List<Object>, Workspace> m = WORKSPACE.get();
        Workspace ws = m.get(key);
        long need = weight.rows() * weight.cols();
        if (ws == null || ws.elements() < need) {
            Workspace grown = Workspace.allocate(Math.max(need, LARGEST.get()), dt, weight.device());
            if (ws != null) grown.retired.add(ws); // a graph may still read the old buffer: freed with the new one
            m.put(key, ws = grown);
        }
        return ws;
    }

    /** Frees the calling thread's workspace buffers (re-created on demand); no graph built through them may still need them. */
    public static void releaseWorkspace() {
        Map<List<Object>, Workspace> m = WORKSPACE.get();
        m.values().forEach(Workspace::release);
        m.clear();
    }

    /**
     * A flat dequantization buffer of {@code elements} and, per weight shape, a view of its start: kernels write
     * into the view's {@code owner}, matmuls read its {@code alias}, which is the same memory with a version counter
     * of its own. Autograd checks a saved tensor's version before using it in backward; the reference kernel writes
     * with libtorch ops (which bump the version), so a graph that saved {@code owner} itself would refuse it after
     * the next layer's dequantization.
     */
    private static final class Workspace {
        private final Tensor buffer; // [elements]
        private final Map<List<Long>, View> views = new HashMap<>();
        private final List<Workspace> retired = new ArrayList<>();

        record View(Tensor owner, Tensor alias) {}

        private Workspace(Tensor buffer) {
            this.buffer = buffer;
        }

        static Workspace allocate(long elements, ScalarType dt, Device device) {
            return new Workspace(torch.empty(new long[] {elements}, new TensorOptions(dt).device(new DeviceOptional(device)), null).retainReference());
        }

        long elements() {
            return buffer.size(0);
        }

        View view(long rows, long cols) {
            return views.computeIfAbsent(List.of(rows, cols), k -> {
                Tensor owner = buffer.narrow(0, 0, rows * cols).view(rows, cols).retainReference();
                Tensor alias = torch.from_blob(buffer.data_ptr(), new long[] {rows, cols},
                        new TensorOptions(buffer.scalar_type()).device(new DeviceOptional(buffer.device()))).retainReference();
                return new View(owner, alias);
            });
        }

        void release() {
            for (View v : views.values()) {
                v.alias.releaseReference();
                v.owner.releaseReference();
            }
            views.clear();
            buffer.releaseReference();
            retired.forEach(Workspace::release);
        }
    }

    /** The backward hook: runs on the autograd engine's thread, so it keeps its own scope for the kernel's temporaries. */
    private final class Redequantize extends VoidTensorHook {
        private volatile Tensor target;

        @Override
        public void call(TensorBase grad) {
            try (PointerScope scope = new PointerScope()) {
                Kernels.dequantizeInto(weight, target);
            }
        }
    }

    @Override
    public Tensor dequantizedWeight(ScalarType dtype) {
        return Kernels.dequantize(weight, dtype);
    }

    @Override
    public Tensor bias() {
        return bias;
    }

    /** The packed weight and its statistics ({@link QuantizedWeight#storageBytes()}); bias excluded. */
    @Override
    public long weightBytes() {
        return weight.storageBytes();
    }

    /** Releases the quantized weight and the bias. */
    @Override
    public void close() {
        weight.close();
        if (bias != null) bias.releaseReference();
        redequantize.releaseReference();
    }
}
