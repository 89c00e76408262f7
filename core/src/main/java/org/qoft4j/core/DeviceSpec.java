package org.qoft4j.core;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;

/**
 * Where tensors live: {@code cpu}, {@code cuda} or {@code cuda:N}. The one parser of device names, for flags, YAML
 * and the Java API alike; libtorch's {@link Device} is made from it only where tensors are created.
 */
public record DeviceSpec(String name) {
    public static final DeviceSpec CPU = new DeviceSpec("cpu");

    public DeviceSpec {
        name = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        if (!name.matches("cpu|cuda(:\\d+)?")) throw new IllegalArgumentException("device must be cpu, cuda or cuda:N, got '" + name + "'");
    }

    @JsonCreator
    public static DeviceSpec parse(String name) {
        return new DeviceSpec(name);
    }

    @JsonValue
    @Override
    public String name() {
        return name;
    }

    public boolean isCuda() {
        return name.startsWith("cuda");
    }

    /** A new libtorch device object (JavaCPP objects are not shared across scopes). */
    public Device device() {
        return new Device(name);
    }

    /** This device, or a clear error when it is CUDA and this libtorch build or machine has none. */
    public DeviceSpec requireAvailable() {
        if (isCuda() && !torch.cuda_is_available())
            throw new IllegalArgumentException("device " + name + ": CUDA is not available (build with -Pgpu on a machine with an NVIDIA GPU)");
        return this;
    }

    @Override
    public String toString() {
        return name;
    }
}
