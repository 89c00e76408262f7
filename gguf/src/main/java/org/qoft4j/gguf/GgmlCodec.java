package org.qoft4j.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Encodes float32 values into ggml's storage types and decodes them back: f32, f16, bf16, and the block formats
 * q8_0, q4_0, q5_0, q4_K, q6_K (one class each, quantized as ggml's {@code quantize_row_*_ref}). Values go block by
 * block in row-major order; {@code n} must be a multiple of the type's block size.
 */
public final class GgmlCodec {
    private GgmlCodec() {}

    /** Writes {@code x[off .. off+n)} as {@code type} into {@code out} (made little endian here). */
    public static void encode(GgmlType type, float[] x, int off, int n, ByteBuffer out) {
        check(type, n);
        out.order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) out.putFloat(x[off + i]);
            }
            case F16 -> {
                for (int i = 0; i < n; i++) out.putShort(Fp16.fromFloat(x[off + i]));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) out.putShort(Fp16.bf16FromFloat(x[off + i]));
            }
            case Q8_0 -> {
                for (int b = 0; b < n; b += Q8_0Block.QK) Q8_0Block.quantize(x, off + b, out);
            }
            case Q4_0 -> {
                for (int b = 0; b < n; b += Q4_0Block.QK) Q4_0Block.quantize(x, off + b, out);
            }
            case Q5_0 -> {
                for (int b = 0; b < n; b += Q5_0Block.QK) Q5_0Block.quantize(x, off + b, out);
            }
            case Q4_K -> {
                for (int b = 0; b < n; b += Q4KBlock.QK) Q4KBlock.quantize(x, off + b, out);
            }
            case Q6_K -> {
                for (int b = 0; b < n; b += Q6KBlock.QK) Q6KBlock.quantize(x, off + b, out);
            }
            default -> throw new IllegalArgumentException("qoft4j does not write " + type.ggmlName());
        }
    }

    /** The bytes of {@code x[off .. off+n)} as {@code type}. */
    public static byte[] encode(GgmlType type, float[] x, int off, int n) {
        check(type, n);
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(type.rowBytes(n)));
        encode(type, x, off, n, b);
        return b.array();
    }

    /** Reads {@code n} values of {@code type} from {@code in} (read as little endian) into {@code y[off ..]}. */
    public static void decode(GgmlType type, ByteBuffer in, float[] y, int off, int n) {
        check(type, n);
        in.order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) y[off + i] = in.getFloat();
            }
            case F16 -> {
                for (int i = 0; i < n; i++) y[off + i] = Fp16.toFloat(in.getShort());
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) y[off + i] = Fp16.bf16ToFloat(in.getShort());
            }
            case Q8_0 -> {
                for (int b = 0; b < n; b += Q8_0Block.QK) Q8_0Block.dequantize(in, y, off + b);
            }
            case Q4_0 -> {
                for (int b = 0; b < n; b += Q4_0Block.QK) Q4_0Block.dequantize(in, y, off + b);
            }
            case Q5_0 -> {
                for (int b = 0; b < n; b += Q5_0Block.QK) Q5_0Block.dequantize(in, y, off + b);
            }
            case Q4_K -> {
                for (int b = 0; b < n; b += Q4KBlock.QK) Q4KBlock.dequantize(in, y, off + b);
            }
            case Q6_K -> {
                for (int b = 0; b < n; b += Q6KBlock.QK) Q6KBlock.dequantize(in, y, off + b);
            }
            default -> throw new IllegalArgumentException("qoft4j does not decode " + type.ggmlName());
        }
    }

    private static void check(GgmlType type, int n) {
        if (n < 0 || n % type.blockSize() != 0)
            throw new IllegalArgumentException(type.ggmlName() + ": " + n + " values are not a whole number of blocks of " + type.blockSize());
    }
}
