package org.qoft4j.trainer;

import java.nio.file.Path;
import java.util.Locale;
import org.qoft4j.core.Human;

/**
 * What a finished run reports.
 *
 * @param steps               optimizer steps done (in total, including those before a resume)
 * @param trainableParameters adapter parameters
 * @param adapterBytes        adapter tensor bytes (float32)
 * @param wallSeconds         wall time of this process's run (loading excluded)
 * @param tokens              input tokens trained on (in total)
 * @param tokensPerS          tokens / time in training steps
 * @param peakRssBytes        resident high-water mark of the process
 * @param cudaPeakBytes       CUDA allocator peak, or null
 * @param mfu                 model FLOPs utilization on CUDA, or null
 * @param finalLoss           the last step's training loss
 * @param evalLoss            the final evaluation's loss, or null without an eval split
 * @param evalPerplexity      its perplexity, or null
 * @param adapterDir          the trained adapter (PEFT files)
 * @param checkpoint          the last checkpoint
 */
public record TrainSummary(String adapter, String quant, int steps, long trainableParameters, long adapterBytes, double wallSeconds,
                           long tokens, double tokensPerS, long peakRssBytes, Long cudaPeakBytes, Double mfu, double finalLoss,
                           Double evalLoss, Double evalPerplexity, Path adapterDir, Path checkpoint) {
    /** A few lines for the console. */
    public String format() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%s on %s base: %d steps, final train loss %.4f", adapter.toUpperCase(Locale.ROOT), quant, steps, finalLoss));
        if (evalLoss != null) s.append(String.format(Locale.ROOT, ", eval loss %.4f (perplexity %.3f)", evalLoss, evalPerplexity));
        s.append(String.format(Locale.ROOT, "%ntrainable parameters %,d (%s)  wall time %s  %,.0f tokens/s", trainableParameters,
                Human.bytes(adapterBytes), Human.duration(wallSeconds), tokensPerS));
        s.append(String.format(Locale.ROOT, "%npeak resident memory %s", Human.bytes(peakRssBytes)));
        if (cudaPeakBytes != null) s.append(String.format(Locale.ROOT, "  CUDA peak allocated %s", Human.bytes(cudaPeakBytes)));
        if (mfu != null) s.append(String.format(Locale.ROOT, "  MFU %.1f%%", 100 * mfu));
        s.append(String.format(Locale.ROOT, "%nadapter: %s%ncheckpoint: %s", adapterDir, checkpoint));
        return s.toString();
    }
}
