package org.qoft4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.core.CpuThreads;
import org.qoft4j.quant.linear.QuantizedLinear;
import org.qoft4j.core.memory.ResidentMemory;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.ModelFamily;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.model.RandomWeights;
import org.qoft4j.trainer.Finetune;
import org.qoft4j.trainer.StepMetrics;
import org.qoft4j.trainer.TrainConfig;
import org.qoft4j.trainer.TrainConfigIO;
import org.qoft4j.trainer.TrainSummary;
import org.qoft4j.trainer.Trainer;

/**
 * Training throughput and peak memory of one configuration: the real {@link Trainer} loop (recomputation or plain
 * autograd, AdamW, clipping, metrics) on a random-weight Llama with hidden 1024, 8 layers, 16 heads, MLP 2816,
 * vocabulary 32000 (untied head), one row of random tokens per step, every token scored. Not JMH: peak resident
 * memory belongs to a process, so each configuration runs in its own JVM ({@code bench/train-bench} runs them all).
 *
 * <p>Arguments: {@code KEY=VALUE} training options (e.g. {@code adapter=lora quant=nf4 recompute=false dtype=bf16
 * seq-len=256 steps=6}); the first {@value #WARMUP} steps are not timed. Prints one JSON object: tokens/s over the
 * timed steps and at the fastest timed step (the least disturbed on a shared machine), mean step time, weight
 * bytes, resident memory after loading and the peak while training (the peak is reset after loading where
 * /proc/self/clear_refs allows).
 */
public final class TrainBench {
    static final int WARMUP = 2;

    public static void main(String[] args) throws IOException {
        Path work = Files.createTempDirectory("train-bench");
        List<String> overrides = new ArrayList<>(List.of("model=random-llama-d1024-l8", "data=" + randomRows(work, 64, 512, 32000),
                "out=" + work.resolve("run"), "steps=6", "batch-size=1", "seq-len=256", "eval-fraction=0", "progress=false", "warmup=1"));
        overrides.addAll(List.of(args));
        TrainConfig c = TrainConfigIO.resolve(TrainConfig.defaults(), List.of(TrainConfigIO.fromOverrides(overrides)));
        CpuThreads.use(c.threads() > 0 ? c.threads() : Runtime.getRuntime().availableProcessors());
        LlamaConfig shape = new LlamaConfig(ModelFamily.LLAMA, List.of(), 1024, 2816, 8, 16, 16, 64, 32000, 1e-5, 10000, null, 4096,
                false, false, false, false, false, 0, 1L, List.of(2L), null);
        List<StepMetrics> steps = new ArrayList<>();
        try (PointerScope scope = new PointerScope(); LlamaModel m = ModelLoader.build(shape, new RandomWeights(shape, 1), c.loadOptions());
             Finetune job = Finetune.open(c, m, null)) {
            System.gc();
            long loaded = ResidentMemory.currentBytes();
            if (ResidentMemory.peakResettable()) ResidentMemory.resetPeak();
            Trainer t = job.trainer();
            t.onStep(steps::add);
            TrainSummary s = t.train();
            double seconds = 0, best = Double.MAX_VALUE;
            long tokens = 0;
            for (StepMetrics st : steps.subList(WARMUP, steps.size())) {
                seconds += st.stepSeconds();
                tokens += st.tokens();
                best = Math.min(best, st.stepSeconds());
            }
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("adapter", c.adapter().key()).put("quant", c.quant().key()).put("recompute", c.recompute()).put("dtype", c.dtype().key());
            o.put("seq_len", c.seqLen()).put("batch_size", c.batchSize()).put("timed_steps", steps.size() - WARMUP);
            o.put("tokens_per_s", tokens / seconds).put("step_seconds", seconds / (steps.size() - WARMUP));
            // on a shared machine the fastest step is the least disturbed one
            o.put("best_step_seconds", best).put("tokens_per_s_best", (double) tokens / (steps.size() - WARMUP) / best);
            o.put("trainable_parameters", s.trainableParameters()).put("adapter_bytes", s.adapterBytes());
            o.put("weight_bytes", m.weightBytes()).put("rss_after_load_bytes", loaded);
            o.put("peak_rss_bytes", ResidentMemory.peakBytes()).put("peak_reset_after_load", ResidentMemory.peakResettable());
            o.put("final_loss", s.finalLoss()).put("threads", torch.get_num_threads());
            System.out.println(o);
        } finally {
            QuantizedLinear.releaseWorkspace();
        }
    }

    /** Pre-tokenized JSONL of {@code n} rows of random ids (every token scored). */
    private static String randomRows(Path dir, int n, int length, int vocab) throws IOException {
        Random r = new Random(1);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append("{\"input_ids\": [");
            for (int j = 0; j < length; j++) sb.append(j == 0 ? "" : ",").append(r.nextInt(vocab));
            sb.append("]}\n");
        }
        Path f = dir.resolve("rows.jsonl");
        Files.writeString(f, sb.toString());
        return f.toString();
    }
}
