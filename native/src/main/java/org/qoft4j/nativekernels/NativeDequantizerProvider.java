package org.qoft4j.nativekernels;

import java.util.Optional;
import org.qoft4j.quant.kernel.Dequantizer;
import org.qoft4j.quant.kernel.DequantizerProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Registers {@link NativeDequantizer} with {@code Kernels} (META-INF/services) when the library loads. */
public final class NativeDequantizerProvider implements DequantizerProvider {
    private static final Logger LOG = LoggerFactory.getLogger(NativeDequantizerProvider.class);

    @Override
    public int priority() {
        return 100;
    }

    @Override
    public Optional<Dequantizer> create() {
        if (NativeLibrary.isLoaded()) return Optional.of(new NativeDequantizer());
        LOG.debug("native dequantization kernels unavailable: {}", NativeLibrary.loadError());
        return Optional.empty();
    }
}
