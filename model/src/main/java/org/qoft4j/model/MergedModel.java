package org.qoft4j.model;

import org.qoft4j.core.AtomicDirectories;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.adapters.Merge;
import org.qoft4j.quant.linear.LinearLayer;
import org.qoft4j.core.safetensors.HfCheckpoint;
import org.qoft4j.model.HfModelWriter;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.model.Projection;
import org.qoft4j.model.TensorSource;

/**
 * A model with its adapters folded in, written as a full-precision (float32) Hugging Face directory that loads
 * without any adapter: adapted projections get {@link Merge#mergedWeight} (OFT {@code W R^T}, LoRA
 * {@code W + s B A}, in fp32 from the loaded base), other projections their base weight, and every other tensor
 * (embeddings, norms, head) comes from the original checkpoint. Tokenizer files are copied; the whole directory is
 * written atomically.
 */
public final class MergedModel implements TensorSource {
    /** Files of a model directory that describe the tokenizer and generation, copied as they are. */
    static final List<String> SIDE_FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
            "generation_config.json", "tokenizer.model");

    private final HfCheckpoint original;
    private final LlamaModel model;
    private final Map<String, ? extends AdapterLayer> adapters;
    private final Map<String, long[]> shapes;

    private MergedModel(HfCheckpoint original, LlamaModel model, Map<String, ? extends AdapterLayer> adapters) {
        this.original = original;
        this.model = model;
        this.adapters = adapters;
        this.shapes = ModelLoader.expectedTensors(model.config());
    }

    /**
     * @param modelDir the directory {@code model} was loaded from (for the tensors adapters do not touch)
     * @param model    the loaded model (its projections' bases are what the adapters are merged into)
     * @param adapters adapters by module path, attached to {@code model}'s projections
     * @param outDir   must not exist, or be an empty directory
     */
    public static void write(Path modelDir, LlamaModel model, Map<String, ? extends AdapterLayer> adapters, Path outDir) {
        for (String path : adapters.keySet()) model.projection(path); // fails early on a module the model lacks
        try {
            if (Files.isDirectory(outDir)) {
                try (var entries = Files.list(outDir)) {
                    if (entries.findAny().isPresent()) throw new IllegalArgumentException(outDir + ": exists and is not empty; refusing to overwrite");
                }
                Files.delete(outDir);
            } else if (Files.exists(outDir)) {
                throw new IllegalArgumentException(outDir + ": exists and is not a directory");
            }
            LlamaConfig c = LlamaConfig.read(modelDir);
            try (HfCheckpoint ckpt = HfCheckpoint.open(modelDir)) {
                MergedModel merged = new MergedModel(ckpt, model, adapters);
                AtomicDirectories.write(outDir, tmp -> {
                    HfModelWriter.writeInto(c, merged, tmp, ScalarType.Float, 0);
                    for (String f : SIDE_FILES)
                        if (Files.isRegularFile(modelDir.resolve(f))) Files.copy(modelDir.resolve(f), tmp.resolve(f));
                });
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the merged model to " + outDir + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String describe() {
        return original.dir() + " with adapters merged";
    }

    @Override
    public Set<String> names() {
        return shapes.keySet();
    }

    @Override
    public long[] shape(String name) {
        return shapes.get(name).clone();
    }

    @Override
    public ScalarType dtype(String name) {
        return ScalarType.Float;
    }

    @Override
    public Tensor load(String name) {
        int dot = name.lastIndexOf('.');
        Projection p = model.projections().get(name.substring(0, dot));
        if (p == null) return original.load(name).to(ScalarType.Float);
        LinearLayer base = p.base();
        if (name.endsWith(".bias")) return base.bias().to(ScalarType.Float).clone();
        AdapterLayer a = adapters.get(p.path());
        return a != null ? Merge.mergedWeight(a) : base.dequantizedWeight(ScalarType.Float);
    }
}
