package org.qoft4j.model;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.Tensors;

/**
 * Rotary position embedding in Hugging Face's layout: dimension {@code i} of a head pairs with {@code i + d/2}
 * ("rotate half"); pair {@code i} turns by {@code position * invFreq[i]}. (llama2.c pairs {@code 2i, 2i+1}
 * instead; {@link Llama2cLoader} permutes q/k rows so both agree.)
 */
public final class RotaryEmbedding {
    private final double[] invFreq; // [headDim / 2]

    public RotaryEmbedding(LlamaConfig c) {
        this.invFreq = inverseFrequencies(c.headDim(), c.ropeTheta(), c.ropeScaling());
    }

    /** {@code 1 / theta^(2i/d)} for i in 0..d/2, rescaled when {@code scaling} is given. */
    public static double[] inverseFrequencies(int headDim, double theta, RopeScaling scaling) {
        double[] f = new double[headDim / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
            if (scaling != null) f[i] = scaling.apply(f[i]);
        }
        return f;
    }

    public double[] invFreq() {
        return invFreq.clone();
    }

    /**
     * cos and sin of every position's angles, {@code [B, 1, T, headDim]} each in {@code dtype}, for {@code positions}
     * {@code [B, T]}. Angles are computed in double precision, then rounded once.
     */
    public Tensor[] cosSin(Tensor positions, ScalarType dtype, Device device) {
        Tensor inv = Tensors.of(invFreq, invFreq.length).to(device, ScalarType.Double);
        Tensor angles = positions.to(device, ScalarType.Double).unsqueeze(-1).mul(inv); // [B, T, hd/2]
        Tensor full = torch.cat(new TensorVector(angles, angles), -1);                 // [B, T, hd]
        return new Tensor[] {full.cos().to(dtype).unsqueeze(1), full.sin().to(dtype).unsqueeze(1)};
    }

    /** {@code x * cos + rotate_half(x) * sin} for {@code x [B, H, T, hd]}. */
    public static Tensor apply(Tensor x, Tensor cos, Tensor sin) {
        long half = x.size(-1) / 2;
        Tensor x1 = x.narrow(-1, 0, half);
        Tensor x2 = x.narrow(-1, half, half);
        Tensor rotated = torch.cat(new TensorVector(x2.neg(), x1), -1);
        return x.mul(cos).add(rotated.mul(sin));
    }
}
