package org.qoft4j.quant.linear;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
 *   thread, one per (shape, dtype, device). Nothing saves it, so it is overwritten by the next layer of that
 *   shape; a forward pass holds at most one dequantized weight per distinct shape.
 *   {@link #releaseWorkspace()} frees the calling thread's buffers.</li>
 *   <li><b>Input requires grad</b>: the same workspace, and the matmul's autograd node keeps a reference to the
 *   workspace (an alias with its own version counter), not a copy. A hook on the matmul's output, which the
 *   autograd engine runs immediately before that node's backward, dequantizes this layer's weight into the
 *   workspace again, so {@code grad_x = grad_y W} sees the right W. That is bitsandbytes' trick (dequantize again
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

    /** Per-thread workspaces keyed by (rows, cols, dtype, device). */
    private static final ThreadLocal<Map<List<Object>, Workspace>> WORKSPACE = ThreadLocal.withInitial(HashMap::new);

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
        Workspace ws = workspace(dt);
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
        List<Object> key = List.of(weight.rows(), weight.cols(), dt, weight.device().str().getString());
        return WORKSPACE.get().computeIfAbsent(key, k -> Workspace.allocate(weight.rows(), weight.cols(), dt, weight.device()));
    }

    /** Frees the calling thread's workspace buffers (re-created on demand); no graph built through them may still need them. */
    public static void releaseWorkspace() {
        Map<List<Object>, Workspace> m = WORKSPACE.get();
        m.values().forEach(Workspace::release);
        m.clear();
    }

    /**
     * A dequantization buffer {@code [rows, cols]} and an alias of the same memory with a version counter of its own:
     * kernels write into {@code owner}, matmuls read {@code alias}. Autograd checks a saved tensor's version before
     * using it in backward; the reference kernel writes with libtorch ops (which bump the version), so a graph that
     * saved {@code owner} itself would refuse it after the next layer's dequantization.
     */
    private record Workspace(Tensor owner, Tensor alias) {
        static Workspace allocate(long rows, long cols, ScalarType dt, Device device) {
            TensorOptions o = new TensorOptions(dt).device(new DeviceOptional(device));
            Tensor owner = torch.empty(new long[] {rows, cols}, o, null).retainReference();
            Tensor alias = torch.from_blob(owner.data_ptr(), new long[] {rows, cols}, new TensorOptions(dt).device(new DeviceOptional(device)))
                    .retainReference();
            return new Workspace(owner, alias);
        }

        void release() {
            alias.releaseReference();
            owner.releaseReference();
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
