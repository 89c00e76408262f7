package org.qoft4j.model;

import java.util.LinkedHashSet;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.safetensors.HfCheckpoint;

/** A Hugging Face checkpoint (single file or shards) as a {@link TensorSource}; the caller closes the checkpoint. */
final class HfTensorSource implements TensorSource {
    private final HfCheckpoint ckpt;
    private final Set<String> names;

    HfTensorSource(HfCheckpoint ckpt) {
        this.ckpt = ckpt;
        this.names = new LinkedHashSet<>(ckpt.names());
    }

    @Override
    public String describe() {
        return ckpt.dir().toString();
    }

    @Override
    public Set<String> names() {
        return names;
    }

    @Override
    public long[] shape(String name) {
        return ckpt.info(name).shape();
    }

    @Override
    public ScalarType dtype(String name) {
        return ckpt.info(name).dtype().scalarType();
    }

    @Override
    public Tensor load(String name) {
        return ckpt.load(name);
    }
}
