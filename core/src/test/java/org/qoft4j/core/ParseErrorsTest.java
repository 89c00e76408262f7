package org.qoft4j.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** Parse errors become one line with the location: no "at [Source: ...]" line, no file excerpt with a caret. */
class ParseErrorsTest {
    @Test
    void jsonErrorsAreOneLineWithTheLocation() {
        JsonProcessingException e = assertThrows(JsonProcessingException.class, () -> new ObjectMapper().readTree("{\"a\": 1,\n  \"b\": ]}"));
        assertTrue(e.getMessage().contains("[Source:"), "Jackson's own message has the extra line: " + e.getMessage());
        String line = ParseErrors.oneLine(e);
        assertTrue(line.startsWith("line 2, column ") && line.contains("Unexpected character (']'"), line);
        assertEquals(1, line.lines().count(), line);
    }

    /** SnakeYAML's reports as Jackson passes them on (measured with jackson-dataformat-yaml): context, excerpt, caret, problem. */
    @Test
    void snakeYamlReportsBecomeOneLineAtTheProblemsMark() {
        String report = "while scanning a quoted scalar\n in 'reader', line 1, column 7:\n    data: \"abc\n          ^\n"
                + "found unexpected end of stream\n in 'reader', line 3, column 1:\n    \n    ^\n";
        String line = ParseErrors.oneLine(new JsonProcessingException(report) {});
        assertEquals("line 3, column 1: while scanning a quoted scalar: found unexpected end of stream", line);
        String tab = "while scanning for the next token\nfound character '\\t(TAB)' that cannot start any token. (Do not use \\t(TAB) for indentation)\n"
                + " in 'reader', line 2, column 1:\n    \t- b\n    ^\n";
        assertEquals("line 2, column 1: while scanning for the next token: found character '\\t(TAB)' that cannot start any token. "
                + "(Do not use \\t(TAB) for indentation)", ParseErrors.oneLine(new JsonProcessingException(tab) {}));
    }
}
