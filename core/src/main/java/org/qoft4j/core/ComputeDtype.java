package org.qoft4j.core;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The dtype activations compute in. {@link #AUTO} is bf16 on CUDA and fp32 on the CPU (libtorch's CPU bf16 paths are
 * slower than fp32 on these machines: docs/BENCHMARKS.md). Adapters and optimizer state stay fp32 whatever this is.
 * The one parser of dtype names ({@code fp32}/{@code float32}, {@code bf16}/{@code bfloat16}, ...).
 */
public enum ComputeDtype {
    AUTO("auto"), FP32("fp32"), BF16("bf16"), FP16("fp16"), FP64("fp64");

    private final String key;

    ComputeDtype(String key) {
        this.key = key;
    }

    @JsonValue
    public String key() {
        return key;
    }

    @JsonCreator
    public static ComputeDtype parse(String s) {
        switch (s == null ? "" : s.trim().toLowerCase(Locale.ROOT)) {
            case "auto": return AUTO;
            case "fp32": case "float32": case "float": return FP32;
            case "bf16": case "bfloat16": return BF16;
            case "fp16": case "float16": case "half": return FP16;
            case "fp64": case "float64": case "double": return FP64;
            default: throw new IllegalArgumentException("dtype must be auto, fp32, bf16, fp16 or fp64, got '" + s + "'");
        }
    }

    /** The libtorch dtype on {@code device}. */
    public ScalarType on(DeviceSpec device) {
        switch (this) {
            case AUTO: return device.isCuda() ? ScalarType.BFloat16 : ScalarType.Float;
            case BF16: return ScalarType.BFloat16;
            case FP16: return ScalarType.Half;
            case FP64: return ScalarType.Double;
            default: return ScalarType.Float;
        }
    }

    @Override
    public String toString() {
        return key;
    }
}
