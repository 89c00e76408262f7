package org.qoft4j.quant.kernel;

import java.util.Comparator;
import java.util.Optional;
import java.util.ServiceLoader;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.QuantizedWeight;
import org.qoft4j.core.Tensors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Picks the dequantization kernel once per JVM: the highest-priority {@link DequantizerProvider} that
 * can run here, else the {@link ReferenceDequantizer} — with one log line saying which.
 * {@code -Dqoft4j.kernels=reference} forces the reference.
 */
public final class Kernels {
    private static final Logger LOG = LoggerFactory.getLogger(Kernels.class);
    private static final Dequantizer REFERENCE = new ReferenceDequantizer();
    private static volatile Dequantizer selected;

    private Kernels() {}

    public static Dequantizer reference() {
        return REFERENCE;
    }

    public static Dequantizer dequantizer() {
        Dequantizer d = selected;
        if (d == null) {
            synchronized (Kernels.class) {
                if (selected == null) selected = select();
                d = selected;
            }
        }
        return d;
    }

    private static Dequantizer select() {
        if ("reference".equals(System.getProperty("qoft4j.kernels"))) {
            LOG.info("dequantization: reference kernels (forced by -Dqoft4j.kernels=reference)");
            return REFERENCE;
        }
        Optional<Dequantizer> fast = ServiceLoader.load(DequantizerProvider.class).stream()
                .map(ServiceLoader.Provider::get)
                .sorted(Comparator.comparingInt(DequantizerProvider::priority).reversed())
                .map(DequantizerProvider::create)
                .flatMap(Optional::stream)
                .findFirst();
        if (fast.isPresent()) {
            LOG.info("dequantization: {} kernels", fast.get().name());
            return fast.get();
        }
        LOG.info("dequantization: reference kernels (libtorch ops); no native kernel library is loaded");
        return REFERENCE;
    }

    /** Dequantizes into a new tensor with the best kernel that supports it (falling back to the reference). */
    public static Tensor dequantize(QuantizedWeight w, ScalarType dtype) {
        Tensor out = torch.empty(new long[] {w.rows(), w.cols()}, new TensorOptions(dtype).device(new DeviceOptional(w.device())), null);
        dequantizeInto(w, out);
        return out;
    }

    public static void dequantizeInto(QuantizedWeight w, Tensor out) {
        Dequantizer d = dequantizer();
        (d.supports(w, out) ? d : REFERENCE).dequantize(w, out);
    }

    /** The checks every kernel makes before touching memory: shape, dtype, device, contiguity. */
    public static void checkOutput(QuantizedWeight w, Tensor out) {
        ScalarType dt = out.scalar_type().intern();
        if (dt != ScalarType.Float && dt != ScalarType.BFloat16 && dt != ScalarType.Half)
            throw new IllegalArgumentException("dequantization output must be float32, bfloat16 or float16, got " + dt);
        if (out.dim() != 2 || out.size(0) != w.rows() || out.size(1) != w.cols())
            throw new IllegalArgumentException("dequantization output must be [" + w.rows() + ", " + w.cols() + "], got "
                    + java.util.Arrays.toString(Tensors.shape(out)));
        if (!out.is_contiguous()) throw new IllegalArgumentException("dequantization output must be contiguous");
        if (!out.device().equals(w.device()))
            throw new IllegalArgumentException("dequantization output is on " + out.device().str().getString()
                    + " but the weight is on " + w.device().str().getString());
    }
}
