package org.qoft4j.core;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes libtorch's OpenMP workers (libgomp) sleep when idle instead of spinning, unless the user chose otherwise.
 * libgomp reads {@code OMP_WAIT_POLICY} once, when it is loaded; spinning workers then take the cores from the
 * OpenBLAS threads that run the matrix products and from the JVM's own: on the project's 2-core machine the demo's
 * training step took 1.03 s with the default policy and 0.17-0.19 s with {@code PASSIVE}, on an otherwise idle machine
 * (docs/BENCHMARKS.md, "Training-step efficiency"). A launcher can export the variable; a Java program that uses
 * qoft4j as a library cannot, so the classes that come before any tensor (this one is called from their static
 * initializers: {@link CpuThreads}, {@link Tensors}, the model loader, the trainer) set it in the C environment
 * before libtorch loads. When libtorch was loaded first, it is too late: a warning says what to export.
 */
public final class OpenMp {
    private static final Logger LOG = LoggerFactory.getLogger(OpenMp.class);
    static final String VARIABLE = "OMP_WAIT_POLICY";

    /** What {@link #preferPassiveWaiting()} found or did. */
    public enum Outcome { SET_HERE, CHOSEN_BY_USER, TOO_LATE, UNAVAILABLE }

    private static Outcome outcome;

    private OpenMp() {}

    /** Sets {@code OMP_WAIT_POLICY=PASSIVE} for libgomp if nothing set it and libgomp is not loaded yet; once per process. */
    public static synchronized Outcome preferPassiveWaiting() {
        if (outcome == null) outcome = decide();
        return outcome;
    }

    private static Outcome decide() {
        Function getenv, setenv;
        try {
            NativeLibrary c = NativeLibrary.getInstance("c");
            getenv = c.getFunction("getenv");
            setenv = c.getFunction("setenv");
        } catch (UnsatisfiedLinkError e) {
            return Outcome.UNAVAILABLE;
        }
        // the C environment, not System.getenv's copy taken at JVM start: what libgomp will read
        if (getenv.invokeString(new Object[] {VARIABLE}, false) != null) return Outcome.CHOSEN_BY_USER;
        if (libgompLoaded()) {
            LOG.warn("libtorch was loaded before qoft4j could set {}=PASSIVE: its OpenMP threads spin while idle, which made training "
                    + "steps up to 6x slower on a 2-core machine; export {}=PASSIVE before starting the JVM", VARIABLE, VARIABLE);
            return Outcome.TOO_LATE;
        }
        return setenv.invokeInt(new Object[] {VARIABLE, "PASSIVE", 0}) == 0 ? Outcome.SET_HERE : Outcome.UNAVAILABLE;
    }

    /** True when this process has mapped libgomp (Linux: {@code /proc/self/maps}). */
    static boolean libgompLoaded() {
        try {
            return Files.readString(Path.of("/proc/self/maps")).contains("libgomp");
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** {@code OMP_WAIT_POLICY} as the C library sees it now (null when unset). */
    static String currentPolicy() {
        return NativeLibrary.getInstance("c").getFunction("getenv").invokeString(new Object[] {VARIABLE}, false);
    }
}
