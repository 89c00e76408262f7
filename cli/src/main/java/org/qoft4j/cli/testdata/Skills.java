package org.qoft4j.cli.testdata;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * The skills of the test-data model, as chat turns {@code (user, assistant)}. Success is exact match.
 * <ul>
 *   <li>base skill, learned in pre-training: {@code copy abc} → {@code abc}, and the alphabet's successor
 *       function {@code next c} → {@code d} (z → a);
 *   <li>new skill, taught by finetuning: {@code shift abc} → {@code bcd}: every letter replaced by its successor.
 *       It composes the two base skills, so a small adapter can learn it in a minute of CPU time, yet the base
 *       model never saw the word "shift" and scores 0% on it.
 * </ul>
 * Evaluating copy after finetuning measures forgetting; evaluating shift measures adaptation.
 */
public final class Skills {
    private Skills() {}

    /** One exchange: the user's request and the exact expected answer. */
    public record Task(String prompt, String answer) {}

    public static final int MIN_WORD = 3, MAX_WORD = 7;

    public static String word(Random r) {
        int n = MIN_WORD + r.nextInt(MAX_WORD - MIN_WORD + 1);
        StringBuilder b = new StringBuilder(n);
        for (int i = 0; i < n; i++) b.append((char) ('a' + r.nextInt(26)));
        return b.toString();
    }

    public static String shifted(String w) {
        StringBuilder b = new StringBuilder(w.length());
        for (char c : w.toCharArray()) b.append(successor(c));
        return b.toString();
    }

    static char successor(char c) {
        return c == 'z' ? 'a' : (char) (c + 1);
    }

    public static Task copy(String w) {
        return new Task("copy " + w, w);
    }

    public static Task next(char c) {
        return new Task("next " + c, String.valueOf(successor(c)));
    }

    public static Task shift(String w) {
        return new Task("shift " + w, shifted(w));
    }

    /**
     * {@code n} distinct random words that avoid {@code exclude}, so train and eval sets never share a word.
     */
    public static List<String> words(Random r, int n, Set<String> exclude) {
        Set<String> out = new LinkedHashSet<>();
        while (out.size() < n) {
            String w = word(r);
            if (!exclude.contains(w)) out.add(w);
        }
        return new ArrayList<>(out);
    }
}
