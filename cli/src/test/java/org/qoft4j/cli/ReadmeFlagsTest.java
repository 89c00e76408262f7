package org.qoft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * README and {@code --help} agree (issue 14, case 7 found README naming a flag {@code finetune --help} did not
 * list): every flag on a README command line ({@code ./qoft4j CMD ... --flag}) is an option of that command, and
 * every other flag README names is an option of some command.
 */
class ReadmeFlagsTest {
    static final Path README = Path.of("..", "README.md");
    static final Pattern FLAG = Pattern.compile("(?<![\\w-])--[a-z][a-z0-9-]*");
    static final Pattern COMMAND_LINE = Pattern.compile("^\\s*(?:[A-Z_]+=\\S+ )?\\./qoft4j ([a-z0-9-]+)(.*)$");
    /** Lines that run other programs (llama.cpp, Ollama, Maven, Slurm, ...): their flags are theirs, not qoft4j's. */
    static final Pattern OTHER_PROGRAM = Pattern.compile("\\b(llama-(cli|server|quantize|perplexity)|ollama|lms|mvn|torchrun|srun|sbatch|java|npm|node|python3?|pip|bench/jmh|examples/run)\\b");

    @Test
    void everyFlagReadmeNamesExists() throws IOException {
        CommandLine root = Qoft4jCommand.commandLine();
        List<String> lines = Files.readAllLines(README);
        List<String> problems = new ArrayList<>();
        int commandLines = 0;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            Matcher c = COMMAND_LINE.matcher(line);
            if (c.matches() && root.getSubcommands().containsKey(c.group(1))) {
                commandLines++;
                CommandSpec cmd = root.getSubcommands().get(c.group(1)).getCommandSpec();
                StringBuilder text = new StringBuilder(c.group(2).replaceAll("#.*", ""));
                while (text.toString().strip().endsWith("\\") && i + 1 < lines.size()) text.append(' ').append(lines.get(++i));
                for (String flag : flags(text.toString()))
                    if (!has(cmd, flag)) problems.add("README line " + (i + 1) + ": ./qoft4j " + c.group(1) + " has no option " + flag);
            } else if (!OTHER_PROGRAM.matcher(line).find()) {
                for (String flag : flags(line))
                    if (root.getSubcommands().values().stream().noneMatch(s -> has(s.getCommandSpec(), flag)) && !has(root.getCommandSpec(), flag))
                        problems.add("README line " + (i + 1) + ": no command has an option " + flag);
            }
        }
        assertTrue(commandLines >= 10, "found the README's command lines (" + commandLines + ")");
        assertEquals(List.of(), problems);
    }

    static List<String> flags(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = FLAG.matcher(text);
        while (m.find()) out.add(m.group());
        return out;
    }

    /** {@code flag} is one of the command's option names, or the {@code --no-} form of a negatable one. */
    static boolean has(CommandSpec cmd, String flag) {
        for (OptionSpec o : cmd.options()) {
            for (String name : o.names()) if (name.equals(flag)) return true;
            if (o.negatable() && flag.startsWith("--no-") && List.of(o.names()).contains("--" + flag.substring(5))) return true;
        }
        return false;
    }
}
