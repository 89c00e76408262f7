package org.qoft4j.core;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Small conversions between Java arrays and CPU libtorch tensors (tests, I/O, diagnostics). */
public final class Tensors {
    static {
        OpenMp.preferPassiveWaiting(); // before libtorch loads: libgomp reads it once
    }

    private Tensors() {}

    /** A new CPU float32 tensor with a copy of {@code data}, viewed as {@code shape}. */
    public static Tensor of(float[] data, long... shape) {
        checkCount(data.length, shape);
        try (FloatPointer p = new FloatPointer(data)) {
            return torch.from_blob(p, shape, new TensorOptions(ScalarType.Float)).clone();
        }
    }

    public static Tensor of(double[] data, long... shape) {
        checkCount(data.length, shape);
        try (DoublePointer p = new DoublePointer(data)) {
            return torch.from_blob(p, shape, new TensorOptions(ScalarType.Double)).clone();
        }
    }

    public static Tensor ofLongs(long[] data, long... shape) {
        checkCount(data.length, shape);
        try (LongPointer p = new LongPointer(data)) {
            return torch.from_blob(p, shape, new TensorOptions(ScalarType.Long)).clone();
        }
    }

    public static Tensor ofInts(int[] data, long... shape) {
        checkCount(data.length, shape);
        try (IntPointer p = new IntPointer(data)) {
            return torch.from_blob(p, shape, new TensorOptions(ScalarType.Int)).clone();
        }
    }

    /** A new CPU uint8 tensor holding {@code data}. */
    public static Tensor ofBytes(byte[] data, long... shape) {
        checkCount(data.length, shape);
        try (BytePointer p = new BytePointer(data)) {
            return torch.from_blob(p, shape, new TensorOptions(ScalarType.Byte)).clone();
        }
    }

    /** The tensor's values as float32, row-major (copied to CPU first when needed; a {@link HostReads} read). */
    public static float[] toFloats(Tensor t) {
        return HostReads.floats(t);
    }

    public static double[] toDoubles(Tensor t) {
        return HostReads.doubles(t);
    }

    public static long[] toLongs(Tensor t) {
        return HostReads.longs(t);
    }

    /** Raw bytes of a uint8 tensor. */
    public static byte[] toBytes(Tensor t) {
        return HostReads.bytes(t);
    }

    /**
     * The tensor's dtype as the canonical enum constant. JavaCPP returns enums from native calls as fresh
     * objects ({@code t.scalar_type() == ScalarType.Float} is false, and a {@code switch} on one misreads it);
     * {@code intern()} maps them back. Always compare dtypes through this (or {@code .intern()}).
     */
    public static ScalarType dtype(Tensor t) {
        return t.scalar_type().intern();
    }

    public static long[] shape(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) s[i] = t.size(i);
        return s;
    }

    private static void checkCount(long n, long[] shape) {
        long prod = 1;
        for (long d : shape) prod *= d;
        if (prod != n) throw new IllegalArgumentException(n + " values cannot fill shape " + java.util.Arrays.toString(shape));
    }
}
