package org.qoft4j.model;

import org.qoft4j.quant.BaseQuant;
import java.nio.file.Path;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.core.Tensors;
import org.qoft4j.core.memory.ResidentMemory;

/**
 * Run in a fresh JVM by {@link ModelLoaderTest}: loads {@code args[0]} with {@code --quant args[1]} and prints
 * {@code peak=<resident bytes gained while loading> model=<weight bytes>}. A fresh process keeps memory freed by
 * other tests from hiding what the load itself needs; the caller runs it with a fixed, pre-touched heap
 * so the JVM's own memory stays still while it measures.
 */
public final class LoadPeakProbe {
    public static void main(String[] args) throws Exception {
        torch.matmul(Tensors.of(new float[] {1, 2, 3, 4}, 2, 2), Tensors.of(new float[] {1, 0, 0, 1}, 2, 2)); // libtorch loaded
        LlamaConfig.read(Path.of(args[0])); // JSON classes loaded
        System.gc();
        long before = ResidentMemory.currentBytes();
        ResidentMemory.resetPeak();
        try (LlamaModel m = ModelLoader.load(Path.of(args[0]), LoadOptions.cpu().withQuant(BaseQuant.parse(args[1]).spec()))) {
            System.out.println("peak=" + (ResidentMemory.peakBytes() - before) + " model=" + m.weightBytes());
        }
    }
}
