package org.qoft4j.trainer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Consumer;
import org.bytedeco.javacpp.PointerScope;
import org.qoft4j.adapters.AdapterConfig;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.adapters.CayleyNeumann;
import org.qoft4j.adapters.OftAdapter;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.OrthogonalityDiagnostics;
import org.qoft4j.model.AdapterSet;

/**
 * Watches how far the OFT rotations are from orthogonal (OFT's premise is that R is a rotation; the truncated
 * Cayley-Neumann series is only nearly one, and less so as ||Q|| grows). After every step:
 * <ul>
 * <li>once the step's {@code max |R^T R - I|} passes {@code orthogonality-threshold}, a single warning naming the
 * settings that fix it (more or auto Neumann terms, exact Cayley, a lower lr, COFT);</li>
 * <li>with {@code neumann-terms: auto}, N for the next step: the smallest of {@link #AUTO_TERMS} whose error bound
 * ({@link CayleyNeumann#orthogonalityBound}) at the largest block spectral norm ||Q||_2 is at most half the threshold
 * (the other half is headroom for the next update). N only grows.</li>
 * </ul>
 * A no-op for LoRA, for the exact Cayley transform (orthogonal to rounding) and with threshold 0.
 */
public final class OrthogonalityGuard implements TrainingListener {
    /** The default {@code orthogonality-threshold}. */
    public static final double DEFAULT_THRESHOLD = 0.05;
    /**
     * The N that auto chooses among, cheapest first. Odd N >= 5 are left out: their error, about 2 s^(N-1), is larger
     * than N - 1's s^(2N-4) for s < 1, at one more matmul; N = 3 is N = 4's polynomial; N = 2 is first order.
     */
    static final int[] AUTO_TERMS = {4, 6, 8};

    private final TrainConfig config;
    private final AdapterSet adapters;
    private final Consumer<String> note;
    private boolean warned;

    /**
     * @param note where the warning and auto's changes go (the trainer's notes: logged and shown to every listener)
     */
    public OrthogonalityGuard(TrainConfig config, AdapterSet adapters, Consumer<String> note) {
        this.config = config;
        this.adapters = adapters;
        this.note = note;
    }

    private boolean active() {
        return config.orthogonalityThreshold() > 0 && adapters.config() instanceof OftConfig c && c.useCayleyNeumann();
    }

    @Override
    public void onStart(int totalSteps, int startStep) {
        if (active() && config.neumannTerms().isAuto()) adjustTerms(startStep);
    }

    @Override
    public void onStep(StepMetrics m) {
        if (!active()) return;
        Double err = m.maxOrthogonalityError();
        if (!warned && err != null && err > config.orthogonalityThreshold()) {
            warned = true;
            note.accept(warning(m.step(), err, maxQSpectralNorm()));
        }
        if (config.neumannTerms().isAuto()) adjustTerms(m.step());
    }

    /** Raises N (auto) so that the bound at the current ||Q||_2 stays within half the threshold. */
    private void adjustTerms(int step) {
        int now = adapters.neumannTerms();
        double s = maxQSpectralNorm();
        int want = termsFor(s, config.orthogonalityThreshold() / 2);
        if (want > now) {
            adapters.useNeumannTerms(want);
            note.accept(String.format(Locale.ROOT, "neumann-terms auto: %d -> %d terms after step %d (largest block ||Q||_2 %.3f; error bound %.1e -> %.1e)",
                    now, want, step, s, CayleyNeumann.orthogonalityBound(now, s), CayleyNeumann.orthogonalityBound(want, s)));
        }
    }

    /** The smallest of {@link #AUTO_TERMS} whose bound at spectral norm {@code s} is at most {@code target}; the largest when none is. */
    static int termsFor(double s, double target) {
        for (int n : AUTO_TERMS) if (CayleyNeumann.orthogonalityBound(n, s) <= target) return n;
        return AUTO_TERMS[AUTO_TERMS.length - 1];
    }

    /** The largest block spectral norm ||Q||_2 over all OFT layers. */
    private double maxQSpectralNorm() {
        double worst = 0;
        try (PointerScope scope = new PointerScope()) {
            for (AdapterLayer a : adapters.layers().values())
                if (a instanceof OftAdapter oft) worst = Math.max(worst, OrthogonalityDiagnostics.maxQSpectralNorm(oft.rotation()));
        }
        return worst;
    }

    private String warning(int step, double err, double s) {
        int n = adapters.neumannTerms();
        double thr = config.orthogonalityThreshold();
        int fix = termsFor(s, thr / 2);
        boolean seriesCan = CayleyNeumann.orthogonalityBound(fix, s) <= thr;
        String terms = seriesCan
                ? String.format(Locale.ROOT, "neumann-terms %d (bound %.1e at this ||Q||) or neumann-terms auto", fix, CayleyNeumann.orthogonalityBound(fix, s))
                : "no number of Neumann terms (||Q||_2 " + String.format(Locale.ROOT, "%.2f", s) + " is too large for the series)";
        return String.format(Locale.ROOT, "warning: at step %d the OFT rotations are %.1f%% off orthogonal (max |R^T R - I| = %.3g > orthogonality-threshold %s, "
                        + "with %d Cayley-Neumann terms; largest block ||Q||_2 %.3f). OFT assumes R is a rotation. Fixes: %s; use-cayley-neumann: false "
                        + "(the exact Cayley transform, orthogonal to rounding); a lower lr (now %s); or coft: true with a coft-eps that bounds ||Q||. "
                        + "(Shown once; see docs/DESIGN.md, \"Orthogonality guard\".)",
                step, 100 * err, err, thr, n, s, terms, config.lr());
    }

    /**
     * The adapter configuration a run starts with: {@link TrainConfig#adapterConfig()}, except that with
     * {@code neumann-terms: auto} a resumed run starts at the N its checkpoint's adapter was saved with (which auto
     * chose before the interruption), so the checkpoint loads and the run continues as the uninterrupted one would.
     */
    public static AdapterConfig adapterConfig(TrainConfig config) {
        AdapterConfig c = config.adapterConfig();
        if (!(c instanceof OftConfig oft) || !config.neumannTerms().isAuto() || config.resume() == null) return c;
        Path file = Checkpointer.resolve(Path.of(config.resume())).resolve(Checkpointer.ADAPTER_DIR).resolve("adapter_config.json");
        try {
            JsonNode n = new ObjectMapper().readTree(Files.readAllBytes(file)).get("num_cayley_neumann_terms");
            return n != null && n.canConvertToInt() ? oft.withNeumannTerms(n.asInt()) : c;
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read the Neumann terms the checkpoint was saved with: " + e.getMessage(), e);
        }
    }
}
