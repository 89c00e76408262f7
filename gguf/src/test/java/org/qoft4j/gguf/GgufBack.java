package org.qoft4j.gguf;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.qoft4j.core.Tensors;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.model.TensorSource;

/**
 * An exported GGUF file read back into a qoft4j model: every tensor decoded to float32 with our decoders, the Q/K
 * permutation undone, under its Hugging Face name. Running it shows what the file's weights compute, independently
 * of llama.cpp (which decodes the same bytes with ggml's kernels).
 */
final class GgufBack {
    private GgufBack() {}

    static LlamaModel load(Path gguf, LlamaConfig c) {
        GgufFile f = GgufFile.read(gguf);
        LlamaCppArchitecture arch = LlamaCppArchitecture.of(c);
        Map<String, Tensor> w = new LinkedHashMap<>();
        // no PointerScope here: the model built from these tensors must outlive this method
        for (LlamaCppArchitecture.TensorMapping m : arch.tensors()) {
            if (m.hfName() == null) continue;
            Tensor t = Tensors.of(f.floats(m.ggufName()), f.tensor(m.ggufName()).torchShape());
            w.put(m.hfName(), arch.fromLlamaCppLayout(m.hfName(), t));
        }
        return ModelLoader.build(c, TensorSource.of(gguf.toString(), w), LoadOptions.cpu());
    }
}
