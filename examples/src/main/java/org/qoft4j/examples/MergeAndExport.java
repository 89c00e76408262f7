package org.qoft4j.examples;

import org.qoft4j.core.CpuThreads;
import org.qoft4j.model.AdapterSet;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.QuantSpec;
import org.qoft4j.core.Tensors;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.data.TestData;
import org.qoft4j.data.tokenizer.ChatMessage;
import org.qoft4j.data.tokenizer.TextTokenizer;
import org.qoft4j.trainer.Finetune;
import org.qoft4j.trainer.TrainConfig;
import org.qoft4j.trainer.TrainConfigIO;
import org.qoft4j.trainer.TrainSummary;
import org.qoft4j.model.MergedModel;

/**
 * Merge and export: fold a trained QOFT adapter into its base and write a plain Hugging Face model.
 *
 * <p>An OFT adapter rotates each frozen weight: merging computes {@code W' = W R^T} once (blockwise), after which the
 * model needs no adapter code at all, so any Llama runtime can load it. We train a short QOFT run on the test data (or
 * take an adapter directory you name), merge it into the dequantized NF4 weights it was trained on, write the result
 * as a float32 safetensors model, load that back as an ordinary model and check that it computes the same logits as
 * the 4-bit base with the adapter attached.
 *
 * <p>Run: {@code examples/run MergeAndExport [ADAPTER_DIR|STEPS] [OUT]} (defaults: train 40 steps; {@code
 * runs/merged-TIMESTAMP}). The command line does the same with {@code ./qoft4j merge --quant nf4}.
 */
public final class MergeAndExport {
    public static void main(String[] args) {
        Path modelDir = TestData.model();
        String first = args.length > 0 ? args[0] : "40";
        Path out = Path.of(args.length > 1 ? args[1] : "runs/merged-" + System.currentTimeMillis());
        CpuThreads.use(Runtime.getRuntime().availableProcessors());

        // 1. An adapter: the one named, or a short QOFT run (settings as key=value overrides, like the command line's).
        Path adapterDir;
        if (first.matches("\\d+")) {
            TrainConfig c = TrainConfigIO.resolve(TrainConfig.defaults(), List.of(TrainConfigIO.fromOverrides(List.of("model=" + modelDir,
                    "data=" + TestData.shiftTrain(), "eval-fraction=0", "out=" + out.resolveSibling(out.getFileName() + "-training"),
                    "adapter=oft", "quant=nf4", "steps=" + first, "batch-size=16", "seq-len=128", "lr=4e-3", "warmup=5", "progress=false"))));
            TrainSummary s = Finetune.run(c);
            System.out.println(s.format());
            adapterDir = c.outDir().resolve("adapter");
        } else {
            adapterDir = Path.of(first);
        }

        // 2. The 4-bit base (computing in fp32) with the adapter attached: what was trained.
        try (PointerScope scope = new PointerScope(); TextTokenizer tok = TextTokenizer.load(modelDir);
             LlamaModel adapted = ModelLoader.load(modelDir, LoadOptions.cpu().withDtype(ScalarType.Float).withQuant(QuantSpec.nf4()));
             AdapterSet adapter = AdapterSet.open(adapted, adapterDir)) {
            // 3. Merge into the weights the adapter saw (the dequantized NF4 ones) and write a Hugging Face directory.
            MergedModel.write(modelDir, adapted, adapter.layers(), out);
            System.out.println("merged " + adapter.layers().size() + " adapter layers -> " + out.toAbsolutePath());

            // 4. Load the export as an ordinary full-precision model: no adapter, no quantization.
            try (LlamaModel merged = ModelLoader.load(out, LoadOptions.cpu())) {
                long[] ids = tok.encodeChat(List.of(ChatMessage.user("shift merge")), true);
                Tensor input = Tensors.ofLongs(ids, 1, ids.length);
                double diff = merged.forward(input).sub(adapted.forward(input)).abs().max().item_double();
                System.out.printf("max |logits(merged) - logits(4-bit base + adapter)| = %.2e over %d positions%n", diff, ids.length);
                for (String q : List.of("shift merge", "copy merge"))
                    System.out.println("  merged model: " + q + " -> " + Chat.ask(merged, tok, out, q));
            }
        }
    }
}
