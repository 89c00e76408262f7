package org.qoft4j.model;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Keys and values of every layer for the tokens seen so far, preallocated to {@code capacity} positions so
 * generation appends without copying: {@code [B, KV, capacity, headDim]} per layer.
 */
public final class KvCache implements AutoCloseable {
    private final Tensor[] keys;
    private final Tensor[] values;
    private final int capacity;
    private int length;

    public KvCache(LlamaConfig c, int batch, int capacity, Device device, ScalarType dtype) {
        if (capacity <= 0) throw new IllegalArgumentException("KV cache capacity must be positive, got " + capacity);
        this.capacity = capacity;
        keys = new Tensor[c.numLayers()];
        values = new Tensor[c.numLayers()];
        long[] shape = {batch, c.numKvHeads(), capacity, c.headDim()};
        TensorOptions opts = new TensorOptions(dtype).device(new DeviceOptional(device));
        for (int i = 0; i < keys.length; i++) {
            keys[i] = torch.zeros(shape, opts).retainReference();
            values[i] = torch.zeros(shape, opts).retainReference();
        }
    }

    /** Positions already cached. */
    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /** Writes this pass's {@code k, v [B, KV, T, hd]} after the cached ones; returns views of all cached keys and values. */
    Tensor[] append(int layer, Tensor k, Tensor v) {
        long t = k.size(2);
        if (length + t > capacity)
            throw new IllegalStateException("KV cache full: " + length + " cached + " + t + " new > capacity " + capacity);
        keys[layer].narrow(2, length, t).copy_(k);
        values[layer].narrow(2, length, t).copy_(v);
        return new Tensor[] {keys[layer].narrow(2, 0, length + t), values[layer].narrow(2, 0, length + t)};
    }

    /** Marks {@code t} more positions as cached, once every layer has appended them. */
    void advance(int t) {
        length += t;
    }

    @Override
    public void close() {
        for (int i = 0; i < keys.length; i++) {
            keys[i].releaseReference();
            values[i].releaseReference();
        }
    }
}
