package org.qoft4j.model;

import java.util.Arrays;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.Tensors;

/** {@code y = w * x / sqrt(mean(x^2) + eps)} over the last dimension, computed in fp32 (or fp64) like transformers' LlamaRMSNorm. */
public final class RmsNorm implements AutoCloseable {
    private final Tensor weight; // [dim], in the compute dtype
    private final double eps;

    /** Takes ownership of {@code weight} (retained beyond any PointerScope). */
    public RmsNorm(Tensor weight, double eps) {
        if (weight.dim() != 1) throw new IllegalArgumentException("RMSNorm weight must be 1-D, got shape " + Arrays.toString(Tensors.shape(weight)));
        this.weight = weight.detach().retainReference();
        this.eps = eps;
    }

    public Tensor weight() {
        return weight;
    }

    public Tensor forward(Tensor x) {
        ScalarType dt = x.scalar_type().intern(); // JavaCPP enums must be interned before ==
        Tensor xf = x.to(dt == ScalarType.Double ? ScalarType.Double : ScalarType.Float); // at least fp32
        Tensor inv = torch.rsqrt(xf.pow(new Scalar(2.0)).mean(new long[] {-1}, true, new ScalarTypeOptional())
                .add(new Scalar(eps)));
        Tensor normed = xf.mul(inv).to(dt);
        return weight.scalar_type().intern() == dt ? normed.mul(weight) : normed.mul(weight.to(dt));
    }

    @Override
    public void close() {
        weight.releaseReference();
    }
}
