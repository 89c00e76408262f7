package org.qoft4j.core;

import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The one place where a tensor's values become Java numbers. On an accelerator every such read waits for all queued
 * work (a host sync), so the training loop keeps its numbers on the device and reads them together once per step;
 * {@link #count()} lets a test check that ({@code Tensors.toFloats} and the other array conversions come through
 * here too). Reading a tensor that was built on the host from Java arrays costs no sync but is counted all the same.
 */
public final class HostReads {
    private static final AtomicLong COUNT = new AtomicLong();

    private HostReads() {}

    /** Reads so far in this JVM (all threads). */
    public static long count() {
        return COUNT.get();
    }

    /** The value of a one-element tensor, as a double: one read. */
    public static double scalar(Tensor t) {
        if (t.numel() != 1) throw new IllegalArgumentException("expected a one-element tensor, got " + t.numel() + " elements");
        return doubles(t)[0];
    }

    /** Every value of {@code t} as float64, row-major: one read (stack several device scalars first to read them at once). */
    public static double[] doubles(Tensor t) {
        Tensor c = host(t, ScalarType.Double);
        double[] out = new double[Math.toIntExact(c.numel())];
        c.data_ptr_double().get(out);
        return out;
    }

    static float[] floats(Tensor t) {
        Tensor c = host(t, ScalarType.Float);
        float[] out = new float[Math.toIntExact(c.numel())];
        c.data_ptr_float().get(out);
        return out;
    }

    static long[] longs(Tensor t) {
        Tensor c = host(t, ScalarType.Long);
        long[] out = new long[Math.toIntExact(c.numel())];
        c.data_ptr_long().get(out);
        return out;
    }

    static byte[] bytes(Tensor t) {
        Tensor c = host(t, ScalarType.Byte);
        byte[] out = new byte[Math.toIntExact(c.numel())];
        c.data_ptr_byte().get(out);
        return out;
    }

    private static Tensor host(Tensor t, ScalarType dtype) {
        COUNT.incrementAndGet();
        return t.detach().to(new Device("cpu"), dtype).contiguous(); // a Device per call: a static one would belong to whatever PointerScope was open first
    }
}
