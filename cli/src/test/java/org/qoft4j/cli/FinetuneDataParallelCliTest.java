package org.qoft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.data.TestData;
import org.qoft4j.trainer.MetricsLog;

/**
 * {@code ./qoft4j finetune --nproc-per-node 2}: the user's view of a data-parallel run on one machine (the numbers are
 * checked against a single process in the trainer's {@code DataParallelTrainingTest}); and a port in use as a clear
 * error before training.
 */
class FinetuneDataParallelCliTest {
    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {}

    static Run cli(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        var cl = Qoft4jCommand.commandLine();
        cl.setOut(new PrintWriter(o, true, StandardCharsets.UTF_8));
        cl.setErr(new PrintWriter(e, true, StandardCharsets.UTF_8));
        int code = cl.execute(args);
        return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    List<String> args(Path out, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("finetune", "--nproc-per-node", "2", "--model", TestData.model().toString(), "--data",
                TestData.shiftTrain().toString(), "--out", out.toString(), "--steps", "3", "--batch-size", "2", "--seq-len", "64", "--max-samples", "80",
                "--no-progress", "--save-every", "2"));
        a.addAll(List.of(more));
        return a;
    }

    @Test
    void twoWorkersWriteOneRunWithPerRankLogs() throws IOException {
        Path out = tmp.resolve("run");
        Run r = cli(args(out).toArray(String[]::new));
        assertEquals(0, r.code(), r.out() + r.err());
        // rank 0's output reaches the console: its summary, once
        assertTrue(r.out().contains("2 worker(s) on this machine") && r.out().contains("OFT on nf4 base: 3 steps"), r.out());
        assertEquals(1, r.out().split("OFT on nf4 base", -1).length - 1, r.out());
        List<JsonNode> steps = MetricsLog.read(out.resolve("metrics.jsonl")).stream().filter(n -> n.get("kind").asText().equals("train")).toList();
        assertEquals(3, steps.size(), "rank 0 alone writes metrics.jsonl");
        for (JsonNode s : steps) assertEquals(2, s.get("data_parallel").get("rank_peak_bytes").size(), s.toString());
        for (String f : new String[] {"adapter/adapter_model.safetensors", "loss.png", "checkpoints/step-000002/trainer_state.json",
                "checkpoints/step-000003/trainer_state.json", "logs/rank-0.log", "logs/rank-1.log"})
            assertTrue(Files.isRegularFile(out.resolve(f)), f + " missing");
        assertTrue(Files.readString(out.resolve("logs/rank-0.log")).contains("OFT on nf4 base: 3 steps"));
        assertTrue(!Files.readString(out.resolve("logs/rank-1.log")).contains("OFT on nf4 base"), "rank 1 prints no summary");
    }

    @Test
    void aPortInUseIsAClearErrorBeforeTraining() throws IOException {
        Path out = tmp.resolve("busy");
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            Run r = cli(args(out, "--master-port", Integer.toString(taken.getLocalPort())).toArray(String[]::new));
            assertEquals(2, r.code(), r.out() + r.err());
            assertTrue(r.err().contains("error: rank 0 of 2 failed") && r.err().contains("port " + taken.getLocalPort())
                    && r.err().contains("already in use") && r.err().contains("No checkpoint was saved"), r.err());
        }
        assertTrue(!Files.exists(out.resolve("metrics.jsonl")), "nothing trained");
        assertTrue(ProcessHandle.current().descendants().noneMatch(p -> p.info().commandLine().orElse("").contains("WorkerMain")),
                "the launcher left a worker running");
    }

    /** A worker of another launcher (srun) keeps its own copy of what it prints, log lines included. */
    @Test
    void aRankLogGetsStdoutAndStderrAndTheConsoleStillDoes() throws IOException {
        java.io.PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        Path log = tmp.resolve("logs/rank-3.log");
        try {
            System.setOut(new java.io.PrintStream(console, true, StandardCharsets.UTF_8));
            System.setErr(new java.io.PrintStream(console, true, StandardCharsets.UTF_8));
            RankLog.teeInto(log);
            System.out.println("to stdout");
            System.err.println("to stderr");
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        assertEquals("to stdout\nto stderr\n", Files.readString(log));
        assertEquals("to stdout\nto stderr\n", console.toString(StandardCharsets.UTF_8));
    }

    @Test
    void launchFlagsAreNotPassedToTheWorkers() {
        assertEquals(List.of("--model", "m", "lr=1", "--steps", "3"), DataParallelLaunch.withoutLaunchFlags(
                List.of("--nproc-per-node", "2", "--model", "m", "--master-port=29500", "lr=1", "--nnodes", "1", "--steps", "3")));
    }
}
