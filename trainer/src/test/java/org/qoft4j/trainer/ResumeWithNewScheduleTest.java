package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.core.Tensors;
import org.qoft4j.core.safetensors.SafetensorsFile;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.quant.QuantSpec;

/**
 * lr, warmup, min-lr-ratio and max-grad-norm may change on resume (issue 14, case 4): each takes effect from the next
 * step, is noted in the output and recorded in trainer_state.json. Other settings stay refused.
 */
class ResumeWithNewScheduleTest {
    @TempDir
    Path tmp;

    @Test
    void eachScheduleSettingMayChangeOnResume() throws IOException {
        Path data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), TinyLlama.countUp(16, 20, 3));
        TrainConfig base = TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, tmp.resolve("first")), "steps=5", "save-every=2",
                "warmup=3", "eval-fraction=0", "oft-block-size=16");
        assertThrows(CheckpointResumeTest.Stop.class, () -> CheckpointResumeTest.run(base, 3)); // checkpoint of step 2
        Path checkpoint = Checkpointer.resolve(tmp.resolve("first"));
        assertEquals(2, Checkpointer.state(checkpoint).step());

        Map<String, String> changes = Map.of("lr", "0.002", "warmup", "0", "min-lr-ratio", "0.5", "max-grad-norm", "0.001");
        float[] unchanged = resume(checkpoint, "unchanged", List.of()).adapter;
        for (Map.Entry<String, String> change : changes.entrySet()) {
            String key = change.getKey(), value = change.getValue();
            Resumed r = resume(checkpoint, key, List.of(key + "=" + value));
            TrainConfig now = TinyLlama.with(base, key + "=" + value);
            String note = r.notes.stream().filter(n -> n.startsWith("resumed with changed settings")).findFirst().orElse("(none)");
            assertTrue(note.contains(key + " ") && note.contains("in effect from step 3"), key + ": " + r.notes);

            TrainerState end = Checkpointer.state(tmp.resolve(key + "/checkpoints/step-000005"));
            assertEquals(1, end.resumeChanges().size(), key);
            TrainerState.ResumeChange recorded = end.resumeChanges().get(0);
            assertEquals(2, recorded.atStep());
            assertEquals(key, recorded.option());
            assertEquals(Double.parseDouble(value), Double.parseDouble(recorded.to()), key);
            assertTrue(Checkpointer.JSON.readTree(tmp.resolve(key + "/checkpoints/step-000005/" + Checkpointer.STATE_FILE).toFile())
                    .has("resume_changes"), key);
            assertEquals(Double.parseDouble(value), Double.parseDouble(TrainConfigIO.YAML.valueToTree(Checkpointer.config(
                    tmp.resolve(key + "/checkpoints/step-000005"))).get(key).asText()), key);

            LrSchedule schedule = LrSchedule.of(now, 5);
            for (int i = 0; i < r.lrs.size(); i++) assertEquals(schedule.at(2 + i), r.lrs.get(i), 1e-15, key + ": lr of step " + (3 + i));
            assertTrue(differs(unchanged, r.adapter), key + " changed nothing the run computed");
        }
    }

    @Test
    void otherSettingsAreStillRefused() throws IOException {
        Path data = TinyLlama.writeJsonl(tmp.resolve("train.jsonl"), TinyLlama.countUp(8, 20, 3));
        TrainConfig c = TinyLlama.with(TinyLlama.config(Path.of("in-memory-tiny"), data, tmp.resolve("run")), "steps=2", "eval-fraction=0",
                "oft-block-size=16");
        CheckpointResumeTest.run(c, 0);
        for (String refused : List.of("weight-decay=0.1", "adam-eps=1e-6", "seed=7", "grad-accum=2")) {
            ConfigException e = assertThrows(ConfigException.class, () -> CheckpointResumeTest.run(TinyLlama.with(c, "resume=" + tmp.resolve("run"),
                    "steps=3", refused), 0));
            assertTrue(e.getMessage().contains(refused.substring(0, refused.indexOf('=')) + " (checkpoint: "), e.getMessage());
        }
    }

    record Resumed(List<String> notes, List<Double> lrs, float[] adapter) {}

    private Resumed resume(Path checkpoint, String name, List<String> overrides) {
        List<String> all = new ArrayList<>(List.of("resume=" + checkpoint, "out=" + tmp.resolve(name)));
        all.addAll(overrides);
        TrainConfig c = TinyLlama.with(Checkpointer.config(checkpoint), all.toArray(new String[0]));
        List<String> notes = new ArrayList<>();
        List<Double> lrs = new ArrayList<>();
        try (PointerScope scope = new PointerScope(); LlamaModel m = TinyLlama.build(QuantSpec.nf4(), 5); Finetune job = Finetune.open(c, m, null)) {
            job.trainer().addListener(new TrainingListener() {
                @Override
                public void onNote(String message) {
                    notes.add(message);
                }

                @Override
                public void onStep(StepMetrics s) {
                    lrs.add(s.lr());
                }
            });
            job.train();
        }
        try (PointerScope scope = new PointerScope(); SafetensorsFile f = SafetensorsFile.open(tmp.resolve(name + "/adapter/adapter_model.safetensors"))) {
            return new Resumed(notes, lrs, Tensors.toFloats(f.load(f.names().iterator().next())));
        }
    }

    private static boolean differs(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) if (a[i] != b[i]) return true;
        return false;
    }
}
