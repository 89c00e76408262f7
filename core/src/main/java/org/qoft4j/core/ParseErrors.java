package org.qoft4j.core;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Jackson's parse errors as one line: {@code "line 2, column 9: mapping values are not allowed here"}. Jackson's own
 * message adds a line {@code " at [Source: REDACTED ...; line: 1, column: 5]"}, and a YAML error carries SnakeYAML's
 * multi-line report (the context, an excerpt of the file with a caret under the column, the problem); on a
 * command line that is ten lines for one mistake.
 */
public final class ParseErrors {
    /** SnakeYAML's location lines, {@code " in 'reader', line 3, column 1:"}; the last one marks the problem. */
    private static final Pattern MARK = Pattern.compile("^\\s*in '[^']*', line (\\d+), column (\\d+):?\\s*$");

    private ParseErrors() {}

    /** A reader's failure in one line: a parse error as {@link #oneLine}, any other I/O error by its message. */
    public static String describe(java.io.IOException e) {
        if (e instanceof JsonProcessingException j) return oneLine(j);
        if (e instanceof java.nio.charset.CharacterCodingException) return "not valid UTF-8 text (" + e + ")";
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }

    /** {@code "line L, column C: what"} (or just {@code "what"} when the parser gave no location). */
    public static String oneLine(JsonProcessingException e) {
        String original = e.getOriginalMessage() == null ? String.valueOf(e) : e.getOriginalMessage();
        List<String> said = new ArrayList<>();
        String line = null, column = null;
        boolean excerpt = false;
        for (String l : original.split("\\R")) {
            Matcher m = MARK.matcher(l);
            if (m.matches()) {
                line = m.group(1);
                column = m.group(2);
                excerpt = true; // the next indented lines are the file excerpt and the caret
                continue;
            }
            if (l.isBlank() || (excerpt && l.startsWith(" "))) continue;
            excerpt = false;
            said.add(l.strip());
        }
        JsonLocation loc = e.getLocation();
        if (line == null && loc != null && loc.getLineNr() > 0) {
            line = String.valueOf(loc.getLineNr());
            column = String.valueOf(loc.getColumnNr());
        }
        String what = said.isEmpty() ? original.strip() : String.join(": ", said);
        return line == null ? what : "line " + line + ", column " + column + ": " + what;
    }
}
