package org.qoft4j.trainer;

import org.qoft4j.core.ParseErrors;
import org.qoft4j.core.AtomicDirectories;
import org.qoft4j.core.AtomicFiles;
import org.qoft4j.core.DiskFullException;
import org.qoft4j.model.AdapterSet;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Checkpoints {@code checkpoints/step-000010/}, each written whole into a hidden temporary directory and renamed
 * into place, so a crash mid-save leaves the previous checkpoint as the latest complete one and nothing
 * half-written under a checkpoint's name. Contents:
 * <ul>
 *   <li>{@code adapter/} — adapter_config.json + adapter_model.safetensors (PEFT layout)</li>
 *   <li>{@code optimizer.pt} — AdamW state in libtorch's archive format (step counts, moments, options)</li>
 *   <li>{@code rng.safetensors} — libtorch's default generator states</li>
 *   <li>{@code config.yaml} — every option of the run</li>
 *   <li>{@code trainer_state.json} — step (= scheduler step), data cursor, tokens and time so far; written last</li>
 * </ul>
 * Only the newest {@code keep} checkpoints are kept.
 */
public final class Checkpointer {
    public static final String ADAPTER_DIR = "adapter";
    public static final String CONFIG_FILE = "config.yaml";
    public static final String STATE_FILE = "trainer_state.json";
    private static final Pattern NAME = Pattern.compile("step-(\\d+)");
    static final ObjectMapper JSON = new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private final Path dir;
    private final int keep;
    private Consumer<String> afterFile = f -> {};

    /** @param dir the run's {@code checkpoints/} directory */
    public Checkpointer(Path dir, int keep) {
        this.dir = dir;
        this.keep = keep;
    }

    /** Called with each file's name right after it is written into the temporary directory (tests simulate crashes with it). */
    void afterEachFile(Consumer<String> hook) {
        this.afterFile = hook;
    }

    public Path dir() {
        return dir;
    }

    public static String name(int step) {
        return String.format(Locale.ROOT, "step-%06d", step);
    }

    /**
     * Saves a checkpoint for {@code state.step()} (kept as is when one for that step exists) and prunes old ones.
     * Only a good state is saved: adapter parameters and optimizer moments must be finite, else nothing is kept and
     * a {@link StateNotFiniteException} says what is not. A full disk is a {@link DiskFullException} naming the
     * checkpoint and the file, with the previous checkpoints left as they were.
     */
    public Path save(TrainerState state, AdapterSet adapters, AdapterOptimizer optimizer, RngState rng, TrainConfig config) {
        Path target = dir.resolve(name(state.step()));
        if (Files.isRegularFile(target.resolve(STATE_FILE))) return target;
        String bad = CheckpointHealth.adapters(adapters);
        if (bad != null) throw new StateNotFiniteException("checkpoint " + target.getFileName() + " refused: " + bad);
        String[] writing = {ADAPTER_DIR};
        try {
            AtomicDirectories.write(target, tmp -> {
                adapters.save(tmp.resolve(ADAPTER_DIR), config.model());
                afterFile.accept(ADAPTER_DIR);
                writing[0] = AdapterOptimizer.FILE;
                optimizer.save(tmp.resolve(AdapterOptimizer.FILE));
                String moments = CheckpointHealth.optimizerFile(tmp.resolve(AdapterOptimizer.FILE));
                if (moments != null) throw new StateNotFiniteException("checkpoint " + target.getFileName() + " refused: " + moments);
                afterFile.accept(AdapterOptimizer.FILE);
                writing[0] = RngState.FILE;
                rng.save(tmp.resolve(RngState.FILE));
                afterFile.accept(RngState.FILE);
                writing[0] = CONFIG_FILE;
                TrainConfigIO.write(config, tmp.resolve(CONFIG_FILE));
                afterFile.accept(CONFIG_FILE);
                writing[0] = STATE_FILE;
                AtomicFiles.write(tmp.resolve(STATE_FILE), JSON.writeValueAsBytes(state));
                afterFile.accept(STATE_FILE);
            });
            prune();
        } catch (IOException | RuntimeException e) {
            if (DiskFullException.isDiskFull(e)) throw diskFull(target, writing[0], e);
            if (e instanceof RuntimeException r) throw r;
            throw new UncheckedIOException("cannot write checkpoint " + target + ": " + e.getMessage(), (IOException) e);
        }
        return target;
    }

    private DiskFullException diskFull(Path target, String file, Exception e) {
        List<Path> kept = list(dir);
        String previous = kept.isEmpty() ? "no earlier checkpoint exists" : "the newest checkpoint, " + kept.get(kept.size() - 1) + ", is intact";
        String resume = kept.isEmpty() ? "" : ", then continue with --resume " + dir.getParent();
        return new DiskFullException("no space left on device writing checkpoint " + target + " (" + file + ")" + DiskFullException.freeSpaceNote(target)
                + ": nothing of it was kept and " + previous + "; free some space" + resume, e);
    }

    /**
     * Renames a checkpoint whose state turned out to diverge to {@code step-NNNNNN.diverged} (kept for a look; no
     * longer listed or resumed). Returns the new name.
     */
    public Path quarantine(Path checkpoint) throws IOException {
        Path to = checkpoint.resolveSibling(checkpoint.getFileName() + ".diverged");
        for (int i = 2; Files.exists(to); i++) to = checkpoint.resolveSibling(checkpoint.getFileName() + ".diverged-" + i);
        AtomicFiles.move(checkpoint, to);
        return to;
    }

    /** Restores adapter values, optimizer and generator state from {@code checkpoint}; returns where the run stood. */
    public static TrainerState restore(Path checkpoint, AdapterSet adapters, AdapterOptimizer optimizer, RngState rng) {
        TrainerState s = state(checkpoint);
        adapters.load(checkpoint.resolve(ADAPTER_DIR));
        optimizer.load(checkpoint.resolve(AdapterOptimizer.FILE));
        rng.load(checkpoint.resolve(RngState.FILE));
        return s;
    }

    public static TrainerState state(Path checkpoint) {
        Path f = checkpoint.resolve(STATE_FILE);
        try {
            return JSON.readValue(f.toFile(), TrainerState.class);
        } catch (IOException e) {
            throw new IllegalArgumentException(f + ": cannot read the trainer state: " + ParseErrors.describe(e), e);
        }
    }

    /** The options a checkpoint was saved with. */
    public static TrainConfig config(Path checkpoint) {
        return TrainConfigIO.read(checkpoint.resolve(CONFIG_FILE));
    }

    /** Complete checkpoints in {@code dir}, oldest first (hidden temporary directories are not checkpoints). */
    public static List<Path> list(Path dir) {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> NAME.matcher(p.getFileName().toString()).matches() && Files.isRegularFile(p.resolve(STATE_FILE)))
                    .sorted(Comparator.comparingInt(Checkpointer::stepOf)).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    /**
     * The checkpoint {@code --resume} means: {@code path} itself when it is one, else the newest complete checkpoint
     * in it, or in its {@code checkpoints/} (a run's output directory).
     */
    public static Path resolve(Path path) {
        if (Files.isRegularFile(path.resolve(STATE_FILE))) return path;
        for (Path d : new Path[] {path.resolve("checkpoints"), path}) {
            List<Path> all = list(d);
            if (!all.isEmpty()) return all.get(all.size() - 1);
        }
        throw new ConfigException("resume: no checkpoint in " + path + " (expected a checkpoint directory with " + STATE_FILE
                + ", a checkpoints/ directory, or a run's output directory)");
    }

    private void prune() throws IOException {
        List<Path> all = new ArrayList<>(list(dir));
        while (all.size() > keep) AtomicDirectories.delete(all.remove(0));
    }

    private static int stepOf(Path p) {
        Matcher m = NAME.matcher(p.getFileName().toString());
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }
}
