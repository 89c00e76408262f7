package org.qoft4j.adapters;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.linear.DenseLinear;

/**
 * Folds an adapter into its base weight, in float32, from the dequantized base (for a 4-bit base this gives a
 * full-precision weight; re-quantizing it would lose accuracy, so that is left to the caller):
 * OFT {@code W' = W R^T} blockwise ({@code W[:, blk_i] R_i^T}), LoRA {@code W' = W + scaling B A}.
 * Unmerging OFT solves with R (not R^T: the Neumann R is only nearly orthogonal).
 */
public final class Merge {
    private Merge() {}

    /** The merged weight {@code [out, in]} in float32 (a new tensor, no autograd history). */
    public static Tensor mergedWeight(AdapterLayer adapter) {
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor w = adapter.base().dequantizedWeight(ScalarType.Float);
            if (adapter instanceof OftAdapter oft) {
                Tensor r = oft.rotation().blocks();                                   // [r, b, b]
                Tensor wb = blockColumns(w, r.size(0), r.size(1));                    // [r, out, b]
                return fromBlockColumns(torch.bmm(wb, r.transpose(1, 2)), w.size(0)); // W_i R_i^T
            }
            LoraLayer lora = (LoraLayer) adapter;
            return w.add(torch.matmul(lora.b(), lora.a()), new Scalar(lora.scaling()));
        }
    }

    /** A plain full-precision layer computing what the adapter computes: merged weight in {@code dtype}, the base's bias. */
    public static DenseLinear merge(AdapterLayer adapter, ScalarType dtype) {
        Tensor bias = adapter.base().bias();
        return new DenseLinear(mergedWeight(adapter).to(dtype), bias == null ? null : bias.to(dtype).clone());
    }

    /** The base weight recovered from a merged one, in float32: OFT {@code W = W' (R^T)^-1} blockwise, LoRA {@code W = W' - scaling B A}. */
    public static Tensor unmergedWeight(Tensor merged, AdapterLayer adapter) {
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor w = merged.to(ScalarType.Float);
            if (adapter instanceof OftAdapter oft) {
                Tensor r = oft.rotation().blocks();
                Tensor wb = blockColumns(w, r.size(0), r.size(1));
                // X R_i^T = W'_i, solved from the right (linalg_solve(A, B, left = false) solves X A = B)
                Tensor x = torch.linalg_solve(r.transpose(1, 2).contiguous(), wb, false);
                return fromBlockColumns(x, w.size(0));
            }
            LoraLayer lora = (LoraLayer) adapter;
            return w.sub(torch.matmul(lora.b(), lora.a()), new Scalar(lora.scaling()));
        }
    }

    /** {@code [out, r*b] -> [r, out, b]}: the weight's column blocks, one per rotation block. */
    private static Tensor blockColumns(Tensor w, long blocks, long b) {
        return w.reshape(w.size(0), blocks, b).transpose(0, 1);
    }

    private static Tensor fromBlockColumns(Tensor wb, long out) {
        return wb.transpose(0, 1).reshape(out, wb.size(0) * wb.size(2));
    }
}
