package org.qoft4j.trainer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.OutputArchive;
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
     * The global L2 norm of all gradients before clipping; when {@code maxNorm > 0} and the norm exceeds it, every
     * gradient is scaled by {@code maxNorm / norm}.
     */
    public double clipGradNorm(double maxNorm) {
        return torch.clip_grad_norm_(params, maxNorm > 0 ? maxNorm : Float.MAX_VALUE, 2.0, false); // libtorch converts it to float
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
