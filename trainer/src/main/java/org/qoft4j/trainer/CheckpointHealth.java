package org.qoft4j.trainer;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringVector;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.core.HostReads;
import org.qoft4j.model.AdapterSet;

/**
 * What makes a state worth keeping: a checkpoint is "good" only when its adapter parameters, its optimizer moments
 * and the metrics of its step are all finite. A large learning rate can leave a step whose loss is still finite
 * while the adapter has overflowed (an OFT rotation whose {@code R^T R} is NaN, moments at 1e37); saving that and
 * naming it "the last good checkpoint" hands the user garbage. Each check returns null when all is well, else one
 * line saying what is not finite and where.
 */
final class CheckpointHealth {
    private CheckpointHealth() {}

    /** The step's loss, gradient norm and (OFT) orthogonality error. */
    static String metrics(StepMetrics m) {
        if (!Double.isFinite(m.loss())) return "the training loss is " + m.loss();
        if (!Double.isFinite(m.gradNorm())) return "the gradient norm is " + m.gradNorm() + " (loss " + m.loss() + ")";
        if (m.maxOrthogonalityError() != null && !Double.isFinite(m.maxOrthogonalityError()))
            return "the OFT rotations are no longer finite (max |R^T R - I| is " + m.maxOrthogonalityError() + ", loss " + m.loss()
                    + "): the adapter parameters grew until R overflowed";
        return null;
    }

    /**
     * How many values of all adapter parameters are not finite, as a 0-dim tensor on their device (not read: the
     * trainer reads it with the step's other numbers); null when there are no parameters.
     */
    static Tensor nonFiniteCount(AdapterSet adapters) {
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor bad = null;
            for (Tensor p : adapters.parameters()) {
                Tensor n = nonFinite(p);
                bad = bad == null ? n : bad.add(n);
            }
            return bad;
        }
    }

    /** Every adapter parameter, in memory; one device sync for all of them. */
    static String adapters(AdapterSet adapters) {
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            Tensor bad = nonFiniteCount(adapters);
            if (bad == null || (long) HostReads.scalar(bad) == 0) return null;
            for (Map.Entry<String, AdapterLayer> layer : adapters.layers().entrySet())
                for (Map.Entry<String, Tensor> p : layer.getValue().stateDict().entrySet()) {
                    long n = (long) HostReads.scalar(nonFinite(p.getValue()));
                    if (n > 0) return "the adapter parameter " + layer.getKey() + "." + p.getKey() + " holds " + n + " non-finite value(s) of "
                            + p.getValue().numel();
                }
            return "an adapter parameter holds non-finite values";
        }
    }

    /**
     * Every tensor of a libtorch optimizer archive ({@code optimizer.pt}: AdamW's step counts, first and second
     * moments), read back from the file. libtorch's optimizers do not expose their state to Java, so the saved
     * file is the one place the moments can be looked at.
     */
    static String optimizerFile(Path file) {
        try (PointerScope scope = new PointerScope(); InputArchive in = new InputArchive()) {
            in.load_from(file.toString());
            Map<String, Integer> index = paramIndex(in);
            return walk(in, "", index);
        } catch (RuntimeException e) {
            return file + ": cannot read the optimizer state back: " + firstLine(e.getMessage());
        }
    }

    /** The number of non-finite elements of {@code t}, as a 0-dim int64 tensor on its device. */
    private static Tensor nonFinite(Tensor t) {
        return torch.isfinite(t).logical_not().sum();
    }

    private static String walk(InputArchive in, String prefix, Map<String, Integer> index) {
        StringVector keys = in.keys();
        for (long i = 0; i < keys.size(); i++) {
            String k = keys.get(i).getString();
            Tensor t = new Tensor();
            if (in.try_read(k, t)) {
                if (t.is_floating_point()) {
                    long n = (long) HostReads.scalar(nonFinite(t));
                    if (n > 0) return describe(prefix + k, index) + " holds " + n + " non-finite value(s) of " + t.numel();
                }
                continue;
            }
            InputArchive sub = new InputArchive();
            if (in.try_read(k, sub)) {
                String bad = walk(sub, prefix + k + "/", index);
                if (bad != null) return bad;
            }
        }
        return null;
    }

    /** libtorch keys each parameter's state by an address; {@code param_groups/.../params/i} says which parameter that is. */
    private static Map<String, Integer> paramIndex(InputArchive in) {
        Map<String, Integer> index = new HashMap<>();
        InputArchive groups = new InputArchive(), all = new InputArchive(), first = new InputArchive(), params = new InputArchive();
        if (!in.try_read("param_groups", groups) || !groups.try_read("param_groups", all) || !all.try_read("0", first)
                || !first.try_read("params", params)) return index;
        StringVector keys = params.keys();
        for (long i = 0; i < keys.size(); i++) {
            String k = keys.get(i).getString();
            if (k.equals("size")) continue;
            IValue v = new IValue();
            params.read(k, v);
            if (v.isString()) index.put(v.toStringRef().getString(), Integer.parseInt(k));
        }
        return index;
    }

    private static String describe(String key, Map<String, Integer> index) {
        String[] parts = key.split("/");
        if (parts.length == 3 && parts[0].equals("state")) {
            Integer i = index.get(parts[1]);
            return String.format(Locale.ROOT, "the optimizer's %s of adapter tensor #%s", parts[2], i == null ? parts[1] : i.toString());
        }
        return "the optimizer state " + key;
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
