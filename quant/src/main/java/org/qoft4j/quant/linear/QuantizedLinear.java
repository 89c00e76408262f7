package org.qoft4j.quant.linear;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
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
 *   <li><b>No grad</b> ({@code GradMode.is_enabled()} false: inference, evaluation, the trainer's
 *   recomputation forward): W is dequantized into a workspace buffer shared by every QuantizedLinear on
 *   the same thread, one per (shape, dtype, device). Nothing saves it, so it is overwritten by the next
 *   layer of that shape; a forward pass holds at most one dequantized weight per distinct shape.
 *   {@link #releaseWorkspace()} frees the calling thread's buffers.</li>
 *   <li><b>Grad enabled</b>: a fresh buffer per call. When x requires grad, autograd's matmul node saves
 *   W (it needs it for {@code grad_x = grad_y W}) until that node's backward runs or the graph is freed;
 *   W itself never requires grad and gets no gradient. The layer keeps no reference to it. Plain autograd
 *   over a whole model would therefore hold every layer's dequantized weight at once; the trainer bounds
 *   that with layer-wise recomputation (one decoder layer's graph alive at a time: docs/DESIGN.md, "One training step").</li>
 * </ul>
 */
public final class QuantizedLinear implements LinearLayer, AutoCloseable {
    private final QuantizedWeight weight;
    private final Tensor bias; // [out] or null

    /** Per-thread no-grad workspaces keyed by (rows, cols, dtype, device). */
    private static final ThreadLocal<Map<List<Object>, Tensor>> WORKSPACE = ThreadLocal.withInitial(HashMap::new);

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
        Tensor w; // [out, in]
        if (GradMode.is_enabled()) {
            w = Kernels.dequantize(weight, dt);
        } else {
            w = workspace(dt);
            Kernels.dequantizeInto(weight, w);
        }
        Tensor y = torch.matmul(x, w.t());
        if (bias != null) y = y.add(bias.scalar_type().intern() == dt ? bias : bias.to(dt));
        return y;
    }

    private Tensor workspace(ScalarType dt) {
        List<Object> key = List.of(weight.rows(), weight.cols(), dt, weight.device().str().getString());
        return WORKSPACE.get().computeIfAbsent(key, k -> torch.empty(new long[] {weight.rows(), weight.cols()},
                new TensorOptions(dt).device(new DeviceOptional(weight.device())), null).retainReference());
    }

    /** Frees the calling thread's no-grad workspace buffers (they are re-created on demand). */
    public static void releaseWorkspace() {
        Map<List<Object>, Tensor> m = WORKSPACE.get();
        m.values().forEach(Tensor::releaseReference);
        m.clear();
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
    }
}
