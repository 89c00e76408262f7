package org.qoft4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ./qoft4j} command line. Each subcommand is one class in this package; register new
 * ones in {@code subcommands} below ({@code finetune}, whose flags are built from {@code TrainConfig}, is added in
 * {@link #commandLine()}).
 */
@Command(name = "qoft4j", mixinStandardHelpOptions = true, version = "qoft4j 0.1.0",
        description = "Orthogonal finetuning (OFTv2 / QOFT) of 4-bit quantized language models, with QLoRA as the baseline.",
        subcommands = {
                CommandLine.HelpCommand.class,
                QuantizeCommand.class,
                InspectCommand.class,
                RandomModelCommand.class,
                EvalCommand.class,
                GenerateCommand.class,
                ConvertLlama2cCommand.class,
                MergeCommand.class,
                CompareCommand.class,
                BenchCommand.class,
                GenerateTestDataCommand.class,
                ExportGgufCommand.class,
        })
public final class Qoft4jCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line (tests call {@code execute} on it without exiting the JVM). */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Qoft4jCommand());
        cl.addSubcommand("finetune", new CommandLine(FinetuneCommand.commandSpec()));
        cl.setParameterExceptionHandler((ex, args) -> {
            // A bad flag or value is one line naming it, with where to look; picocli's usage page would bury it.
            CommandLine c = ex.getCommandLine();
            String why = ex.getCause() instanceof IllegalArgumentException iae && iae.getMessage() != null ? iae.getMessage() : ex.getMessage();
            c.getErr().println("error: " + why + " (see: qoft4j " + c.getCommandSpec().qualifiedName(" ").replaceFirst("^qoft4j ?", "") + " --help)");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, line, parse) -> {
            // Bad input is reported as one clear line, not a stack trace; QOFT4J_DEBUG=1 shows the trace.
            if (System.getenv("QOFT4J_DEBUG") != null) ex.printStackTrace();
            String message = ex.getMessage() == null ? ex.toString() : ex.getMessage();
            line.getErr().println("error: " + message.replaceAll("\\R at \\[Source: [^\\]]*\\]", "")); // Jackson's location line, in case one slips through
            return 2;
        });
        return cl;
    }
}
