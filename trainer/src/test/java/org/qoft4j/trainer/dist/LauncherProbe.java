package org.qoft4j.trainer.dist;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Workers (and a launcher) for {@link LauncherTest}; no libtorch, so they start in a fraction of a second.
 * <ul>
 *   <li>{@code sleep OUT}: prints a greeting, writes OUT/pid-RANK, sleeps a minute;
 *   <li>{@code fail OUT R STATUS}: as sleep, but rank R exits with STATUS after 300 ms;
 *   <li>{@code launch OUT}: a launcher of two {@code sleep} workers (logs in OUT/logs), writing OUT/launcher-pid.
 * </ul>
 */
public final class LauncherProbe {
    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[1]);
        if (args[0].equals("launch")) {
            write(out, "launcher-pid", ProcessHandle.current().pid());
            new Launcher(LaunchPlan.standalone(2), out.resolve("logs"), 1, Duration.ofSeconds(5), List.of(), null)
                    .run(LauncherProbe.class.getName(), List.of("sleep", out.toString()));
            return;
        }
        DistEnv env = DistEnv.fromEnvironment(System.getenv()).orElseThrow();
        System.out.println("hello from rank " + env.rank() + " (" + Runtime.getRuntime().availableProcessors() + " processors)");
        write(out, "pid-" + env.rank(), ProcessHandle.current().pid());
        if (args[0].equals("fail") && env.rank() == Integer.parseInt(args[2])) {
            Thread.sleep(300);
            System.out.println("rank " + env.rank() + " gives up");
            System.exit(Integer.parseInt(args[3]));
        }
        Thread.sleep(60_000);
    }

    private static void write(Path dir, String name, long pid) throws Exception {
        Path tmp = dir.resolve(name + ".tmp");
        Files.writeString(tmp, Long.toString(pid));
        Files.move(tmp, dir.resolve(name));
    }
}
