package org.qoft4j.bench.experiments;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorBase;
import org.bytedeco.pytorch.TensorTensorHook;
import org.bytedeco.pytorch.VoidTensorHook;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The native rotation inside autograd, by gradient substitution (Java cannot define a custom autograd
 * function, but it can register tensor hooks). {@link #rotate} builds
 * <pre>
 *   y = (native(x R) - x).detach() + x' + 0 * sum(R')       x' = x.view_as(x), R' = R.view_as(R)
 * </pre>
 * whose value is the native product and whose graph reaches x and R through the two views. A hook on y
 * records the incoming gradient G; hooks on x' and R' replace what autograd would send them (G and zeros)
 * with the native {@code G R^T} and {@code x^T G}. Gradients then flow on to whatever produced x and R
 * (the previous layer, the Cayley–Neumann parameterization) as usual.
 * <p>
 * The hooks are JavaCPP callbacks that libtorch's graph calls, so they must outlive the backward pass:
 * keep this object open until the backward that consumes the graph has returned, then {@link #close()} it
 * (a per-layer or per-step try-with-resources). Hooks that never fired (no backward ran) are not freed on
 * close, so a graph still holding them cannot call freed memory; that leak is logged.
 * Experiment, on no product path: it beats autograd through libtorch's batched matmul
 * ({@link BlockRotation#rotateLibtorch}, which training uses) only under contention (docs/BENCHMARKS.md,
 * "Native kernels").
 */
public final class HookedRotation implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HookedRotation.class);

    private final List<Hook> hooks = new ArrayList<>();
    private final List<Tensor> saved = new ArrayList<>();

    /** {@code y[..., blk i] = x[..., blk i] R_i}, differentiable with respect to x and R when they require grad. */
    public Tensor rotate(Tensor x, Tensor rot) {
        boolean gradX = x.requires_grad(), gradR = rot.requires_grad();
        if (!GradMode.is_enabled() || !(gradX || gradR)) {
            try (NoGradGuard g = new NoGradGuard()) {
                return BlockRotation.rotate(x, rot);
            }
        }
        long r = rot.size(0), b = rot.size(1);
        Tensor xd = keep(x.detach().contiguous()), rd = keep(rot.detach().contiguous());
        Tensor y;
        try (NoGradGuard g = new NoGradGuard()) {
            y = BlockRotation.rotate(xd, rd);       // validates shapes, dtypes, devices
            if (gradX) y.sub_(xd);
        }
        if (gradX) {
            Tensor xa = x.view_as(x);
            xa.register_hook(hook(new TensorTensorHook() {
                @Override
                public TensorBase call(TensorBase grad) {
                    fired(this);
                    try (NoGradGuard g = new NoGradGuard()) {
                        return BlockRotation.rotateTransposed(new Tensor(grad), rd);
                    }
                }
            }));
            y = y.add(xa);
        }
        if (gradR) {
            Tensor[] upstream = new Tensor[1];
            Tensor ra = rot.view_as(rot);
            ra.register_hook(hook(new TensorTensorHook() {
                @Override
                public TensorBase call(TensorBase grad) {
                    fired(this);
                    try (NoGradGuard g = new NoGradGuard()) {
                        return BlockRotation.gradRotation(xd, upstream[0], r, b);
                    }
                }
            }));
            y = y.add(ra.sum().mul(new Scalar(0.0)));
            y.register_hook(hook(new VoidTensorHook() {
                @Override
                public void call(TensorBase grad) {
                    fired(this);
                    upstream[0] = keep(new Tensor(grad).detach());
                }
            }));
        }
        return y;
    }

    private Tensor keep(Tensor t) {
        saved.add(t.retainReference());
        return t;
    }

    private record Hook(Pointer callback, boolean[] fired) {}

    private <T extends Pointer> T hook(T callback) {
        callback.retainReference();  // not freed by any PointerScope: libtorch's graph holds it
        hooks.add(new Hook(callback, new boolean[1]));
        return callback;
    }

    private void fired(Pointer callback) {
        for (Hook h : hooks) if (h.callback() == callback) h.fired()[0] = true;
    }

    /**
     * Frees the hooks and the tensors they use; call after the backward pass. If some hook has not run (no
     * backward yet), nothing is freed: a graph that still holds the hooks must not call freed memory.
     */
    @Override
    public void close() {
        long pending = hooks.stream().filter(h -> !h.fired()[0]).count();
        if (pending > 0) {
            LOG.warn("{} rotation hook(s) have not run (closed before backward): leaving them and their tensors allocated", pending);
        } else {
            for (Hook h : hooks) h.callback().releaseReference();
            for (Tensor t : saved) t.releaseReference();
        }
        hooks.clear();
        saved.clear();
    }
}
