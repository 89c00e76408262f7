package org.qoft4j.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The samples of one JSONL file (one record per line, blank lines ignored). A malformed line — not JSON, not a
 * record qoft4j knows, or not valid UTF-8 (then with the byte offset of the bad byte) — is a {@link DataException}
 * naming {@code file:line} and what was expected, or, with {@code skipMalformed}, it is left out and counted.
 */
public final class JsonlDataset {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int REASONS_KEPT = 5;

    private final Path file;
    private final List<Sample> samples;
    private final int skipped;
    private final List<String> skipReasons;

    private JsonlDataset(Path file, List<Sample> samples, int skipped, List<String> skipReasons) {
        this.file = file;
        this.samples = Collections.unmodifiableList(samples);
        this.skipped = skipped;
        this.skipReasons = List.copyOf(skipReasons);
    }

    /**
     * @param maxSamples stop after this many samples (0 = all)
     */
    public static JsonlDataset read(Path file, SampleEncoder encoder, boolean skipMalformed, int maxSamples) {
        if (!Files.isRegularFile(file)) throw new DataException(file + ": no such file");
        List<Sample> samples = new ArrayList<>();
        List<String> reasons = new ArrayList<>();
        int skipped = 0;
        try (Utf8Lines r = new Utf8Lines(file)) {
            Utf8Lines.Line line;
            while ((line = r.next()) != null && (maxSamples <= 0 || samples.size() < maxSamples)) {
                if (line.text() != null && line.text().isBlank()) continue;
                try {
                    if (line.text() == null) throw new IllegalArgumentException(line.problem());
                    samples.add(encoder.encode(parse(line.text())));
                } catch (IllegalArgumentException e) {
                    String where = file + ":" + line.number() + ": " + e.getMessage();
                    if (!skipMalformed) throw new DataException(where + " (skip malformed lines with --skip-malformed)", e);
                    skipped++;
                    if (reasons.size() < REASONS_KEPT) reasons.add(where);
                }
            }
        } catch (IOException e) {
            throw new DataException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (samples.isEmpty()) throw new DataException(file + ": no usable samples" + (skipped > 0 ? " (" + skipped + " malformed lines skipped, e.g. " + reasons.get(0) + ")" : ""));
        return new JsonlDataset(file, samples, skipped, reasons);
    }

    private static JsonNode parse(String line) {
        try {
            return JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not valid JSON (" + e.getOriginalMessage() + ")");
        }
    }

    public Path file() {
        return file;
    }

    public List<Sample> samples() {
        return samples;
    }

    /** Malformed lines left out (only with skipMalformed). */
    public int skipped() {
        return skipped;
    }

    /** {@code file:line: reason} of the first few skipped lines. */
    public List<String> skipReasons() {
        return skipReasons;
    }

    /** A train/eval split of samples. */
    public record Split(List<Sample> train, List<Sample> eval) {}

    /**
     * Splits by a seeded shuffle: {@code round(evalFraction * n)} samples (at least one when the fraction is
     * positive, never all) go to eval; the same seed always gives the same split.
     */
    public static Split split(List<Sample> samples, double evalFraction, long seed) {
        if (!(evalFraction >= 0 && evalFraction < 1)) throw new IllegalArgumentException("eval fraction must be in [0, 1), got " + evalFraction);
        int n = samples.size();
        int nEval = evalFraction == 0 ? 0 : Math.max(1, (int) Math.round(evalFraction * n));
        if (nEval >= n) throw new IllegalArgumentException("an eval fraction of " + evalFraction + " leaves no training samples out of " + n);
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < n; i++) order.add(i);
        Collections.shuffle(order, new Random(seed));
        List<Integer> evalIdx = new ArrayList<>(order.subList(0, nEval));
        Collections.sort(evalIdx); // keep file order within each part
        List<Sample> train = new ArrayList<>(), eval = new ArrayList<>();
        boolean[] isEval = new boolean[n];
        for (int i : evalIdx) isEval[i] = true;
        for (int i = 0; i < n; i++) (isEval[i] ? eval : train).add(samples.get(i));
        return new Split(Collections.unmodifiableList(train), Collections.unmodifiableList(eval));
    }
}
