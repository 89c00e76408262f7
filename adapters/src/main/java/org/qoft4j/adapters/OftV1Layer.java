package org.qoft4j.adapters;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.linear.LinearLayer;

/**
 * OFT v1, weight-centric, kept to reproduce the paper's comparison: build the dense block-diagonal
 * {@code R [in, in]}, the rotated weight {@code W' = W R^T} from the dequantized weight (a cubic-cost matmul and a
 * full-precision {@code [out, in]} copy per forward), then {@code y = x W'^T + bias}. Same parameters and the same
 * outputs as {@link OftLayer}. Computes in float32 and returns x's dtype.
 */
public final class OftV1Layer extends OftAdapter {
    public OftV1Layer(LinearLayer base, OftConfig config) {
        this(base, config, null, 0L, null);
    }

    /** See {@link OftAdapter#OftAdapter(LinearLayer, OftConfig, String, long, Device)}. */
    public OftV1Layer(LinearLayer base, OftConfig config, String label, long seed, Device device) {
        super(base, config, label, seed, device);
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        ScalarType dt = x.scalar_type().intern(); // JavaCPP returns fresh enum objects: intern() before ==
        Tensor w = base.dequantizedWeight(ScalarType.Float);                        // [out, in]
        Tensor rotatedWeight = torch.matmul(w, blockDiagonal(rotation.blocks(isTraining())).t()); // W R^T
        Tensor y = torch.matmul(dt == ScalarType.Float ? x : x.to(ScalarType.Float), rotatedWeight.t());
        if (base.bias() != null) y = y.add(base.bias().to(ScalarType.Float));
        return dt == ScalarType.Float ? y : y.to(dt);
    }

    /** {@code R [r, b, b]} to the dense block-diagonal {@code [r*b, r*b]}, differentiably: {@code R_i} masked onto the diagonal of {@code [r, b, r, b]}. */
    static Tensor blockDiagonal(Tensor r) {
        long blocks = r.size(0), b = r.size(1);
        Tensor eye = torch.eye(blocks, new TensorOptions(r.scalar_type()).device(new DeviceOptional(r.device())))
                .reshape(blocks, 1, blocks, 1);
        return r.unsqueeze(2).mul(eye).reshape(blocks * b, blocks * b);
    }
}
