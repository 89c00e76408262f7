package org.qoft4j.trainer;

import java.nio.file.Path;

/** Test helper run in a child JVM: takes the lock on {@code args[0]}, says "locked", and waits to be killed. */
public final class RunLockHolder {
    private RunLockHolder() {}

    public static void main(String[] args) throws InterruptedException {
        RunLock lock = RunLock.acquire(Path.of(args[0]), note -> {});
        System.out.println("locked");
        System.out.flush();
        Thread.sleep(120_000);
        lock.close();
    }
}
