package org.qoft4j.adapters;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.linear.LinearLayer;

/**
 * OFTv2, input-centric: {@code y = base(x R)} with {@code R} block-diagonal, applied blockwise on
 * {@code [..., r, b]} as one batched matmul (never a dense {@code [in, in]} matrix). The frozen layer is only read,
 * so it can be a 4-bit layer that dequantizes on the fly.
 *
 * <p>Dtypes follow PEFT's {@code OFTRotationModule.forward}: x is cast to the parameter dtype (float32), rotated,
 * cast back to x's dtype, and the base layer runs in x's dtype. With bf16 activations the rotation is exact in
 * fp32 and only its result is rounded to bf16.
 */
public final class OftLayer extends OftAdapter {
    public OftLayer(LinearLayer base, OftConfig config) {
        this(base, config, null, 0L, null);
    }

    /** See {@link OftAdapter#OftAdapter(LinearLayer, OftConfig, String, long, Device)}. */
    public OftLayer(LinearLayer base, OftConfig config, String label, long seed, Device device) {
        super(base, config, label, seed, device);
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        ScalarType dt = x.scalar_type().intern(); // JavaCPP returns fresh enum objects: intern() before ==
        Tensor xf = dt == ScalarType.Float ? x : x.to(ScalarType.Float);
        Tensor rotated = OftRotation.rotate(xf, rotation.blocks(isTraining()));
        return base.forward(dt == ScalarType.Float ? rotated : rotated.to(dt));
    }
}
