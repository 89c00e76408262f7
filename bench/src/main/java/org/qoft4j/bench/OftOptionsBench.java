package org.qoft4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.qoft4j.data.TestData;
import org.qoft4j.trainer.Finetune;
import org.qoft4j.trainer.SkillEvals;
import org.qoft4j.trainer.StepMetrics;
import org.qoft4j.trainer.TrainConfig;
import org.qoft4j.trainer.TrainConfigIO;
import org.qoft4j.trainer.TrainSummary;
import org.qoft4j.trainer.TrainingListener;

/**
 * What each of PEFT's OFT / LoRA options (issue 13) does on the demo ({@code ./qoft4j finetune} with no model: the
 * test-data Llama, NF4, 60 steps, batch 16 x 128, lr 4e-3): the OFT rotations' orthogonality error (max over the
 * run and at the end), the Neumann terms in use at the end, eval loss, and the new and base skills' exact match
 * after training; then the step time of every variant measured side by side (variants interleaved round by round,
 * the fastest of each variant's timed steps kept, so the machine's load hits all of them alike) as a ratio to the
 * default.
 *
 * <p>Arguments: {@code [--out FILE.jsonl] [--rounds R] [--only NAME,...]}. One JSON line per variant (and a final
 * line of step-time ratios) to stdout and to FILE.
 */
public final class OftOptionsBench {
    /** name -> overrides on top of the demo settings. */
    static Map<String, List<String>> variants() {
        Map<String, List<String>> v = new LinkedHashMap<>();
        v.put("default (N=5)", List.of());
        v.put("neumann-terms 4", List.of("neumann-terms=4"));
        v.put("neumann-terms 6", List.of("neumann-terms=6"));
        v.put("neumann-terms 8", List.of("neumann-terms=8"));
        v.put("neumann-terms auto", List.of("neumann-terms=auto"));
        v.put("exact Cayley", List.of("use-cayley-neumann=false"));
        v.put("lr 2e-3", List.of("lr=2e-3"));
        v.put("coft eps 1.0", List.of("coft=true", "coft-eps=1.0"));
        v.put("coft eps 6e-5 (PEFT default)", List.of("coft=true"));
        v.put("block-share", List.of("block-share=true"));
        v.put("module-dropout 0.1", List.of("module-dropout=0.1"));
        v.put("oft-r 2", List.of("oft-r=2"));
        v.put("layers-to-transform 2,3", List.of("layers-to-transform=[2,3]"));
        v.put("lora", List.of("adapter=lora"));
        v.put("lora use-rslora", List.of("adapter=lora", "use-rslora=true"));
        v.put("lora rank-pattern down_proj 4", List.of("adapter=lora", "rank-pattern={down_proj: 4}"));
        return v;
    }

    public static void main(String[] args) throws IOException {
        Path outFile = null;
        int rounds = 3;
        List<String> only = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> outFile = Path.of(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--only" -> only = Arrays.asList(args[++i].split(","));
                default -> throw new IllegalArgumentException("unknown argument " + args[i] + " (expected --out FILE, --rounds R, --only NAME,...)");
            }
        }
        Map<String, List<String>> variants = new LinkedHashMap<>(variants());
        if (only != null) variants.keySet().retainAll(only);
        Path work = Files.createTempDirectory("oft-options-bench");
        ObjectMapper json = new ObjectMapper();
        SkillEvals skills = new SkillEvals(TestData.skills(), 50, 12);
        int n = 0;
        for (Map.Entry<String, List<String>> v : variants.entrySet()) {
            List<String> measured = new ArrayList<>(v.getValue());
            measured.add("log-every=1"); // the orthogonality error of every step (the default reads it every 10)
            TrainConfig c = config(work.resolve("run" + n++), measured, 60);
            ObjectNode o = json.createObjectNode().put("variant", v.getKey());
            List<StepMetrics> steps = new ArrayList<>();
            List<String> notes = new ArrayList<>();
            try (Finetune job = Finetune.open(c)) {
                job.trainer().onStep(steps::add).addListener(new TrainingListener() {
                    @Override
                    public void onNote(String message) {
                        notes.add(message);
                    }
                });
                TrainSummary s = job.train();
                List<SkillEvals.Score> after = skills.measure(job);
                double worst = steps.stream().mapToDouble(m -> m.maxOrthogonalityError() == null ? Double.NaN : m.maxOrthogonalityError()).max().orElse(Double.NaN);
                StepMetrics last = steps.get(steps.size() - 1);
                o.put("max_orthogonality_error_run", worst).put("max_orthogonality_error_end", last.maxOrthogonalityError() == null ? Double.NaN : last.maxOrthogonalityError());
                o.put("neumann_terms_end", job.adapters().neumannTerms()).put("trainable_parameters", s.trainableParameters());
                o.put("final_train_loss", s.finalLoss()).put("eval_loss", s.evalLoss());
                for (SkillEvals.Score sc : after) o.put(sc.skill().replaceAll("\\W+", "_") + "_accuracy", sc.accuracy()).put(sc.skill().replaceAll("\\W+", "_") + "_loss", sc.loss());
                o.put("median_step_seconds", median(steps.stream().mapToDouble(StepMetrics::stepSeconds).toArray()));
                ArrayNode ns = o.putArray("notes");
                notes.stream().filter(m -> m.startsWith("warning") || m.startsWith("neumann-terms auto")).forEach(ns::add);
            }
            emit(o.toString(), outFile);
        }
        // step time side by side: every variant runs a few steps per round, rounds interleave the variants
        Map<String, Double> best = new LinkedHashMap<>();
        for (int r = 0; r < rounds; r++) {
            for (Map.Entry<String, List<String>> v : variants.entrySet()) {
                TrainConfig c = config(work.resolve("time" + r + "-" + n++), v.getValue(), 4);
                List<StepMetrics> steps = new ArrayList<>();
                try (Finetune job = Finetune.open(c)) {
                    job.trainer().onStep(steps::add);
                    job.train();
                }
                double fastest = steps.subList(1, steps.size()).stream().mapToDouble(StepMetrics::stepSeconds).min().orElseThrow(); // step 1 warms up
                best.merge(v.getKey(), fastest, Math::min);
            }
        }
        ObjectNode ratios = json.createObjectNode();
        double base = best.values().iterator().next();
        best.forEach((k, s) -> ratios.putObject(k).put("best_step_seconds", s).put("ratio_to_first", s / base));
        emit(json.createObjectNode().put("step_time_rounds", rounds).set("step_time", ratios).toString(), outFile);
    }

    private static TrainConfig config(Path out, List<String> extra, int steps) {
        // the demo's settings (cli DemoJob.settings())
        List<String> o = new ArrayList<>(List.of("model=" + TestData.model(), "data=" + TestData.shiftTrain(), "eval-data=" + TestData.shiftEval(),
                "out=" + out, "adapter=oft", "quant=nf4", "steps=" + steps, "batch-size=16", "seq-len=128", "lr=4e-3", "warmup=5", "progress=false"));
        o.addAll(extra);
        return TrainConfigIO.resolve(TrainConfig.defaults(), List.of(TrainConfigIO.fromOverrides(o)));
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s.length == 0 ? Double.NaN : s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static void emit(String line, Path file) throws IOException {
        System.out.println(line);
        System.out.flush();
        if (file != null)
            Files.writeString(file, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
}
