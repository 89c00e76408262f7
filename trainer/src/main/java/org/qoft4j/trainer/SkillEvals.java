package org.qoft4j.trainer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.qoft4j.trainer.eval.Evaluator;
import org.qoft4j.trainer.eval.ExactMatch;

/**
 * Named skill evaluations of a finetuning job (e.g. "new skill" = what the adapter should learn, "base skill" =
 * what it should not forget): loss over the eval file's answer tokens and exact-match accuracy of greedy answers.
 * Adapters are switched to eval mode (no dropout) while measuring.
 */
public final class SkillEvals {
    /** One measurement of one skill. */
    public record Score(String skill, double loss, double accuracy, int examples, List<String[]> samples) {}

    private final Map<String, Path> files;
    private final int maxExamples;
    private final int maxNewTokens;

    /** @param files skill name -> chat JSONL whose last assistant turn is the expected answer */
    public SkillEvals(Map<String, Path> files, int maxExamples, int maxNewTokens) {
        this.files = new LinkedHashMap<>(files);
        this.maxExamples = maxExamples;
        this.maxNewTokens = maxNewTokens;
    }

    public boolean isEmpty() {
        return files.isEmpty();
    }

    public List<Score> measure(Finetune job) {
        List<Score> out = new ArrayList<>();
        boolean wasTraining = job.adapters().isTraining();
        job.adapters().train(false);
        try {
            Set<Long> stop = job.tokenizer().stopTokenIds(job.model().config().eosTokenIds(), job.config().modelDir());
            for (Map.Entry<String, Path> e : files.entrySet()) {
                Evaluator.Result loss = job.evaluate(job.readSamples(e.getValue()));
                ExactMatch.Result em = ExactMatch.evaluate(job.model(), job.tokenizer(), ExactMatch.read(e.getValue(), maxExamples),
                        maxNewTokens, stop);
                out.add(new Score(e.getKey(), loss.loss(), em.accuracy(), em.total(), em.samples()));
            }
        } finally {
            job.adapters().train(wasTraining);
        }
        return out;
    }

    /** A before/after table, one row per skill, then a few greedy answers after training. */
    public static String format(List<Score> before, List<Score> after) {
        StringBuilder b = new StringBuilder();
        b.append(String.format("%-24s %12s %12s %12s %12s%n", "skill (exact match)", "loss before", "loss after", "acc before", "acc after"));
        for (int i = 0; i < before.size(); i++) {
            Score x = before.get(i), y = after.get(i);
            b.append(String.format("%-24s %12.4f %12.4f %11.1f%% %11.1f%%%n", x.skill() + " (" + x.examples() + ")", x.loss(), y.loss(),
                    100 * x.accuracy(), 100 * y.accuracy()));
        }
        for (int i = 0; i < before.size(); i++) {
            for (int k = 0; k < after.get(i).samples().size(); k++) {
                String[] s = after.get(i).samples().get(k), s0 = before.get(i).samples().get(k);
                b.append(String.format("  %-22s expected %-10s before: %-12s after: %s%n", s[0] + " =", quote(s[1]), quote(s0[2]), quote(s[2])));
            }
        }
        return b.toString();
    }

    private static String quote(String s) {
        return "\"" + s + "\"";
    }
}
