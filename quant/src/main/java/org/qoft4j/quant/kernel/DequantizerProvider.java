package org.qoft4j.quant.kernel;

import java.util.Optional;

/**
 * Service-provider interface (java.util.ServiceLoader) through which optional modules, such as
 * {@code native}, offer faster dequantization kernels without {@code quant} depending on them.
 */
public interface DequantizerProvider {
    /** Higher wins when several providers are present. */
    int priority();

    /** The kernel, or empty when it cannot run here (library missing, CPU lacks the instructions). */
    Optional<Dequantizer> create();
}
