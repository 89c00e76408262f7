package org.qoft4j.trainer.dist;

import java.io.IOException;
import java.io.InputStream;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Arrays;
import org.slf4j.LoggerFactory;

/**
 * The entry point of a worker JVM that {@link Launcher} starts: {@code WorkerMain MAIN_CLASS ARGS...} runs
 * {@code MAIN_CLASS.main(ARGS)} after starting a watchdog that ends this JVM when the launcher goes away.
 *
 * <p>The launcher keeps the write end of each worker's stdin pipe open and never writes to it; the kernel closes it
 * when the launcher exits in any way, kill -9 included (which runs no shutdown hook). The watchdog reads stdin, sees
 * end-of-file, and exits: no worker outlives its launcher holding a GPU or a port.
 */
public final class WorkerMain {
    /** Set to 1 by the launcher: stdin is the launcher's lifeline (and the launcher keeps this worker's log). */
    public static final String WATCHDOG_ENV = "QOFT4J_LAUNCHER_LIFELINE";
    /** Exit status of a worker whose launcher went away. */
    static final int ORPHANED_STATUS = 70;

    private WorkerMain() {}

    public static void main(String[] args) throws Throwable {
        if (args.length == 0) throw new IllegalArgumentException("usage: WorkerMain MAIN_CLASS [ARGS...]");
        if ("1".equals(System.getenv(WATCHDOG_ENV))) startLifelineWatchdog(System.in);
        MethodHandle main = MethodHandles.publicLookup().findStatic(Class.forName(args[0]), "main", MethodType.methodType(void.class, String[].class));
        main.invokeExact(Arrays.copyOfRange(args, 1, args.length));
    }

    private static void startLifelineWatchdog(InputStream lifeline) {
        Thread t = new Thread(() -> {
            try {
                while (lifeline.read() >= 0) {
                    // the launcher never writes; anything read is ignored
                }
            } catch (IOException e) {
                // a broken pipe means the same as end-of-file
            }
            LoggerFactory.getLogger(WorkerMain.class).warn("the launcher is gone (its pipe closed): exiting");
            Thread halt = new Thread(() -> {
                try {
                    Thread.sleep(5_000);
                } catch (InterruptedException ignored) {
                    // exit now
                }
                Runtime.getRuntime().halt(ORPHANED_STATUS);  // shutdown hooks hung
            }, "qoft4j-orphan-halt");
            halt.setDaemon(true);
            halt.start();
            System.exit(ORPHANED_STATUS);
        }, "qoft4j-launcher-lifeline");
        t.setDaemon(true);
        t.start();
    }
}
