package org.qoft4j.core;

import org.bytedeco.pytorch.global.torch;

/** Child JVM of {@link OpenMpTest}: {@code ours} touches qoft4j first, {@code torch} loads libtorch first; prints what it saw. */
public final class OpenMpProbe {
    public static void main(String[] args) {
        boolean goompBefore = OpenMp.libgompLoaded();
        if (args[0].equals("torch")) torch.get_num_threads(); // libtorch (and libgomp) before any qoft4j class
        CpuThreads.use(1); // its static initializer asks for the policy, then libtorch loads
        System.out.println("outcome=" + OpenMp.preferPassiveWaiting());
        System.out.println("policy=" + OpenMp.currentPolicy());
        System.out.println("libgomp-before=" + goompBefore + " libgomp-after=" + OpenMp.libgompLoaded());
    }
}
