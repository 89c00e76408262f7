package org.qoft4j.model;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.Tensors;

/**
 * Named tensors a model is assembled from, read one at a time: a Hugging Face checkpoint, a llama2.c file,
 * random weights, or tensors in memory.
 */
public interface TensorSource extends AutoCloseable {
    /** Where the tensors come from, for error messages (a directory or file). */
    String describe();

    Set<String> names();

    default boolean contains(String name) {
        return names().contains(name);
    }

    /** The stored shape of {@code name} (without reading its data). */
    long[] shape(String name);

    /** The stored dtype of {@code name}. */
    ScalarType dtype(String name);

    /** A new CPU tensor holding {@code name} in its stored dtype; the caller owns it. */
    Tensor load(String name);

    @Override
    default void close() {}

    /** Tensors already in memory (not copied; the caller keeps them alive while the source is used). */
    static TensorSource of(String describe, Map<String, Tensor> tensors) {
        Map<String, Tensor> m = new LinkedHashMap<>(tensors);
        return new TensorSource() {
            @Override
            public String describe() {
                return describe;
            }

            @Override
            public Set<String> names() {
                return m.keySet();
            }

            @Override
            public long[] shape(String name) {
                return Tensors.shape(get(name));
            }

            @Override
            public ScalarType dtype(String name) {
                return get(name).scalar_type().intern();
            }

            @Override
            public Tensor load(String name) {
                return get(name).clone();
            }

            private Tensor get(String name) {
                Tensor t = m.get(name);
                if (t == null) throw new ModelFormatException(describe + ": no tensor '" + name + "'");
                return t;
            }
        };
    }

    /** "[a, b]" for messages. */
    static String shapeString(long[] shape) {
        return Arrays.toString(shape);
    }
}
