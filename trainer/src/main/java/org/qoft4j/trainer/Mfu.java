package org.qoft4j.trainer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.qoft4j.model.DecoderLayer;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.Projection;

/**
 * Model FLOPs utilization on CUDA: achieved model FLOP/s over the GPU's dense bf16 peak. Model FLOPs per token
 * follow the PaLM convention, {@code 6 N + 12 L d T} (N = parameters of the linear layers and head, L layers,
 * d hidden size, T sequence length); recomputation is not counted as useful work, and since the frozen base gets
 * no weight gradients, adapter training does less than 6N per token (so MFU here is comparable with other
 * trainers' figures, not a measure of how busy the GPU was).
 */
public final class Mfu {
    private Mfu() {}

    static double flopsPerToken(LlamaModel m, int seqLen) {
        long n = m.lmHead().inFeatures() * m.lmHead().outFeatures();
        for (DecoderLayer l : m.layers())
            for (Projection p : l.projections().values()) n += p.base().inFeatures() * p.base().outFeatures();
        return 6.0 * n + 12.0 * m.numLayers() * m.config().hiddenSize() * seqLen;
    }

    /** Dense bf16 peak FLOP/s of a GPU by its name, or NaN when unknown. */
    static double peakFlops(String gpuName) {
        String n = gpuName == null ? "" : gpuName.toUpperCase(Locale.ROOT);
        if (n.contains("H100") && n.contains("PCIE")) return 756e12;
        if (n.contains("H100") || n.contains("H200") || n.contains("H800")) return 989e12;
        if (n.contains("A100") || n.contains("A800")) return 312e12;
        if (n.contains("L40S")) return 362e12;
        if (n.contains("L4")) return 121e12;
        return Double.NaN;
    }

    /** The first GPU's name from {@code nvidia-smi}, or null. */
    public static String gpuName() {
        try {
            Process p = new ProcessBuilder("nvidia-smi", "--query-gpu=name", "--format=csv,noheader").redirectErrorStream(true).start();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line = r.readLine();
                return p.waitFor() == 0 && line != null ? line.trim() : null;
            }
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
