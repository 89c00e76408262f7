package org.qoft4j.trainer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.core.DiskFullException;

/**
 * libtorch's AdamW over the adapter tensors only (the frozen base has no parameters to update), with global-norm
 * clipping and the learning rate set before each step. Its state (step counts, first and second moments, options)
 * is saved and restored with libtorch's own archive format.
 */
public final class AdapterOptimizer implements AutoCloseable {
    public static final String FILE = "optimizer.pt";

    private final AdamW adamw;
    private final TensorVector params;

    public AdapterOptimizer(List<Tensor> params, TrainConfig c) {
        if (params.isEmpty()) throw new IllegalArgumentException("no trainable tensors to optimize");
        this.params = new TensorVector(params.toArray(new Tensor[0]));
        AdamWOptions o = new AdamWOptions(c.lr());
        // betas is a std::tuple<double, double>, which libstdc++ lays out last element first (measured: put(0, x) sets beta2)
        o.betas().put(0, c.beta2()).put(1, c.beta1());
        o.eps().put(c.adamEps());
        o.weight_decay().put(c.weightDecay());
        this.adamw = new AdamW(this.params, o);
    }

    /** The libtorch optimizer (tests write its state the old way, with libtorch's own file writer). */
    AdamW adamw() {
        return adamw;
    }

    /** Drops the gradients (set to undefined, so the next backward writes them fresh). */
    public void zeroGrad() {
        adamw.zero_grad(true);
    }

    /**
     * The global L2 norm of all gradients before clipping, as a 0-dim fp32 tensor on their device — not read, so no
     * host sync (libtorch's {@code clip_grad_norm_} returns a double: a read). When {@code maxNorm > 0} every gradient
     * is scaled by {@code min(1, maxNorm / (norm + 1e-6))}, on the device: libtorch's formula and op order, so the
     * numbers are those of {@code clip_grad_norm_}. A non-finite norm scales the gradients by NaN or 0; the trainer
     * reads the norm before stepping and stops there.
     */
    public Tensor clipGradNorm(double maxNorm) {
        List<Tensor> grads = new ArrayList<>();
        for (Tensor p : params.get()) if (p.grad().defined()) grads.add(p.grad());
        if (grads.isEmpty()) throw new IllegalStateException("no adapter tensor has a gradient: was backward run?");
        List<Tensor> norms = new ArrayList<>();
        for (Tensor g : grads) norms.add(g.norm(new ScalarOptional(new Scalar(2.0))));
        Tensor total = norms.size() == 1 ? norms.get(0) : torch.stack(new TensorVector(norms.toArray(new Tensor[0]))).norm(new ScalarOptional(new Scalar(2.0)));
        if (maxNorm > 0) {
            Tensor coef = torch.clamp(total.add(new Scalar(1e-6)).reciprocal().mul(new Scalar(maxNorm)), new ScalarOptional(), new ScalarOptional(new Scalar(1.0)));
            try (NoGradGuard g = new NoGradGuard()) {
                for (Tensor grad : grads) grad.mul_(coef);
            }
        }
        return total;
    }

    /** One AdamW update at learning rate {@code lr}. */
    public void step(double lr) {
        adamw.param_groups().get(0).options().set_lr(lr);
        adamw.step();
    }

    /** Writes the state to {@code file} (atomically); a full disk is a {@link DiskFullException}, never a crash of the JVM. */
    public void save(Path file) {
        try (OutputArchive a = new OutputArchive()) {
            adamw.save(a);
            TorchArchiveFile.save(a, file); // not a.save_to(file): see TorchArchiveFile
        } catch (IOException e) {
            DiskFullException full = DiskFullException.ifDiskFull(file, e);
            if (full != null) throw full;
            throw new UncheckedIOException("cannot write the optimizer state " + file + ": " + e.getMessage(), e);
        }
    }

    public void load(Path file) {
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + ": optimizer state not found");
        InputArchive a = new InputArchive();
        try {
            a.load_from(file.toString());
            adamw.load(a);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": cannot load the optimizer state (is it from a run with the same adapters?): "
                    + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        adamw.close();
        params.close();
    }
}
