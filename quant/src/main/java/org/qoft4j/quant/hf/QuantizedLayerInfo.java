package org.qoft4j.quant.hf;

import java.util.List;
import org.qoft4j.quant.QuantType;

/**
 * What a checkpoint says about one quantized linear layer, read from headers and the small
 * quant_state only (no weight data is loaded).
 *
 * @param blocksize   nf4/fp4 absmax block size; 0 for int4
 * @param doubleQuant nf4/fp4 with nested (8-bit) absmax
 * @param groupSize   int4 group size; 0 for nf4/fp4
 * @param keys        the checkpoint keys that store the layer
 * @param bytes       their total size
 */
public record QuantizedLayerInfo(String prefix, QuantType type, long rows, long cols, int blocksize, boolean doubleQuant,
                                 int groupSize, List<String> keys, long bytes) {
    public QuantizedLayerInfo {
        keys = List.copyOf(keys);
    }

    public long numel() {
        return rows * cols;
    }

    public double bitsPerWeight() {
        return bytes * 8.0 / numel();
    }
}
