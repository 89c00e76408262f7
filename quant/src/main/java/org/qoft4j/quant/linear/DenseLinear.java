package org.qoft4j.quant.linear;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** A frozen full-precision linear layer (the {@code --quant none} base, and the reference for 4-bit layers). */
public final class DenseLinear implements LinearLayer {
    private final Tensor weight; // [out, in]
    private final Tensor bias;   // [out] or null

    /** Takes ownership of both tensors (retained beyond any PointerScope); neither requires grad. */
    public DenseLinear(Tensor weight, Tensor bias) {
        if (weight.dim() != 2)
            throw new IllegalArgumentException("linear weight must be 2-D [out, in], got " + weight.dim() + "-D");
        if (bias != null && (bias.dim() != 1 || bias.size(0) != weight.size(0)))
            throw new IllegalArgumentException("bias must be [" + weight.size(0) + "]");
        this.weight = weight.detach().retainReference();
        this.bias = bias == null ? null : bias.detach().retainReference();
    }

    public Tensor weight() {
        return weight;
    }

    @Override
    public long inFeatures() {
        return weight.size(1);
    }

    @Override
    public long outFeatures() {
        return weight.size(0);
    }

    @Override
    public Tensor forward(Tensor x) {
        if (x.size(-1) != inFeatures())
            throw new IllegalArgumentException("input has " + x.size(-1) + " features, layer expects " + inFeatures());
        ScalarType dt = x.scalar_type().intern();
        Tensor w = weight.scalar_type().intern() == dt ? weight : weight.to(dt);
        Tensor y = torch.matmul(x, w.t());
        if (bias != null) y = y.add(bias.scalar_type().intern() == dt ? bias : bias.to(dt));
        return y;
    }

    @Override
    public Tensor dequantizedWeight(ScalarType dtype) {
        return weight.to(dtype).clone();
    }

    @Override
    public Tensor bias() {
        return bias;
    }

    @Override
    public long weightBytes() {
        return weight.numel() * weight.element_size();
    }
}
