package org.qoft4j.cli.testdata;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.data.Batch;
import org.qoft4j.data.DataLoader;
import org.qoft4j.data.Sample;
import org.qoft4j.data.SampleEncoder;
import org.qoft4j.trainer.eval.ExactMatch;
import org.qoft4j.model.DecoderLayer;
import org.qoft4j.model.HfModelWriter;
import org.qoft4j.model.LlamaConfig;
import org.qoft4j.model.LayerRunner;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.model.NextTokenLoss;
import org.qoft4j.model.LoadOptions;
import org.qoft4j.model.ModelLoader;
import org.qoft4j.model.Projection;
import org.qoft4j.model.TensorSource;
import org.qoft4j.quant.linear.DenseLinear;
import org.qoft4j.data.tokenizer.ChatMessage;
import org.qoft4j.data.tokenizer.TextTokenizer;

/**
 * Generates {@code test-data/}: a tiny Llama that has learned a base skill, datasets for a new skill, and eval
 * sets for both (see {@link Skills}). Deterministic for a given seed and thread count; its output is committed,
 * and regenerating it is only needed when the format or the skills change:
 * <pre>
 *   ./qoft4j generate-test-data [--out test-data] [--steps 1500]
 * </pre>
 * It takes about 10 minutes of one core (pre-training 1500 steps of 2048 tokens); the result: copy 100%, shift 0%.
 * Layout: {@code tiny-llama/} (config.json, model.safetensors fp32, tokenizer.json, tokenizer_config.json,
 * generation_config.json) and {@code data/} ({@code shift-train.jsonl} (2000 shift + 500 replayed copy examples), {@code shift-eval.jsonl},
 * {@code copy-eval.jsonl}, chat format).
 */
public final class TestDataGenerator {
    static final long SEED = 20251126L;
    static final int SHIFT_TRAIN = 2000, COPY_REPLAY = 500, SHIFT_EVAL = 100, COPY_EVAL = 100;
    static final int PRETRAIN_STEPS = 1500, BATCH = 16, SEQ_LEN = 128;
    static final double LR = 3e-3, MIN_LR = 3e-4;
    static final int WARMUP = 100;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper LINE = new ObjectMapper();

    private TestDataGenerator() {}

    /** The model's shape: d = 128, 4 layers, 4 query / 2 key-value heads, SwiGLU 384, untied head (~0.9M parameters). */
    static ObjectNode config() {
        ObjectNode c = LINE.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("hidden_size", 128).put("intermediate_size", 384).put("num_hidden_layers", 4);
        c.put("num_attention_heads", 4).put("num_key_value_heads", 2).put("head_dim", 32);
        c.put("vocab_size", ByteLevelTokenizerFiles.VOCAB_SIZE).put("max_position_embeddings", 256);
        c.put("rms_norm_eps", 1e-5).put("rope_theta", 10000.0).put("tie_word_embeddings", false);
        c.put("hidden_act", "silu").put("attention_bias", false);
        c.put("bos_token_id", ByteLevelTokenizerFiles.BOS).put("eos_token_id", ByteLevelTokenizerFiles.EOS)
                .put("pad_token_id", ByteLevelTokenizerFiles.PAD);
        c.put("torch_dtype", "float32");
        return c;
    }

    public static void generate(Path out, int steps, java.io.PrintStream log) throws IOException {
        // one thread by default: the committed files were made that way, and float sums depend on the thread count
        torch.set_num_threads(Integer.getInteger("qoft4j.threads", 1));
        torch.manual_seed(SEED);
        Path data = out.resolve("data"), modelDir = out.resolve("tiny-llama");
        Random r = new Random(SEED);
        Set<String> held = writeDatasets(data, r);

        // Tokenizer files go to a staging directory, then into the model directory.
        Path staging = Files.createTempDirectory(out, ".tiny-llama-");
        Files.setPosixFilePermissions(staging, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        JSON.writeValue(staging.resolve("tokenizer.json").toFile(), ByteLevelTokenizerFiles.tokenizerJson(JSON));
        JSON.writeValue(staging.resolve("tokenizer_config.json").toFile(), ByteLevelTokenizerFiles.tokenizerConfig(JSON));
        ObjectNode gen = JSON.createObjectNode();
        gen.put("bos_token_id", ByteLevelTokenizerFiles.BOS).put("eos_token_id", ByteLevelTokenizerFiles.EOS)
                .put("pad_token_id", ByteLevelTokenizerFiles.PAD).put("do_sample", false);
        JSON.writeValue(staging.resolve("generation_config.json").toFile(), gen);

        LlamaConfig cfg = LlamaConfig.parse(config(), "test-data generator");
        try (TextTokenizer tok = TextTokenizer.load(staging)) {
            List<Sample> corpus = pretrainingCorpus(r, tok, held, cfg.vocabSize());
            Map<String, Tensor> weights = initialWeights(cfg);
            try (LlamaModel model = ModelLoader.build(cfg, TensorSource.of("random init", weights), LoadOptions.cpu())) {
                pretrain(model, corpus, steps, log);
                var stop = Set.of(ByteLevelTokenizerFiles.EOS);
                var copy = ExactMatch.evaluate(model, tok, ExactMatch.read(data.resolve("copy-eval.jsonl"), COPY_EVAL), 12, stop);
                var shift = ExactMatch.evaluate(model, tok, ExactMatch.read(data.resolve("shift-eval.jsonl"), SHIFT_EVAL), 12, stop);
                log.printf("base model: copy (base skill) %.1f%%, shift (new skill) %.1f%%%n", 100 * copy.accuracy(), 100 * shift.accuracy());
                HfModelWriter.write(cfg, TensorSource.of("pre-trained", stateDict(model)), staging.resolve("weights"), ScalarType.Float, Long.MAX_VALUE);
            }
        }
        // config.json and model.safetensors from the writer's directory join the tokenizer files
        try (var files = Files.list(staging.resolve("weights"))) {
            for (Path f : files.toList()) Files.move(f, staging.resolve(f.getFileName()));
        }
        Files.delete(staging.resolve("weights"));
        if (Files.exists(modelDir)) {
            try (var old = Files.list(modelDir)) {
                for (Path f : old.toList()) Files.delete(f);
            }
            Files.delete(modelDir);
        }
        Files.move(staging, modelDir, StandardCopyOption.ATOMIC_MOVE);
        log.println("wrote " + modelDir + " and " + data);
    }

    /**
     * Writes the three chat JSONL files and returns the eval words (never seen in pre-training or finetuning);
     * {@code r} continues to the pre-training corpus.
     */
    static Set<String> writeDatasets(Path data, Random r) throws IOException {
        Files.createDirectories(data);
        List<String> copyEval = Skills.words(r, COPY_EVAL, Set.of());
        List<String> shiftEval = Skills.words(r, SHIFT_EVAL, new HashSet<>(copyEval));
        Set<String> held = new HashSet<>(copyEval);
        held.addAll(shiftEval);
        List<String> shiftTrain = Skills.words(r, SHIFT_TRAIN, held);
        writeChat(data.resolve("copy-eval.jsonl"), copyEval.stream().map(Skills::copy).toList());
        writeChat(data.resolve("shift-eval.jsonl"), shiftEval.stream().map(Skills::shift).toList());
        // The finetuning set replays some base-skill examples (as instruction datasets usually do), so the adapter
        // learns "shift when asked to shift" rather than "always shift". Drawn from their own generator so that the
        // pre-training corpus does not depend on them.
        Set<String> used = new HashSet<>(held);
        used.addAll(shiftTrain);
        List<Skills.Task> finetune = new ArrayList<>(shiftTrain.stream().map(Skills::shift).toList());
        finetune.addAll(Skills.words(new Random(SEED + 1), COPY_REPLAY, used).stream().map(Skills::copy).toList());
        Collections.shuffle(finetune, new Random(SEED + 2));
        writeChat(data.resolve("shift-train.jsonl"), finetune);
        return held;
    }

    /** Copy tasks on fresh random words and the successor facts, each rendered by the chat template, all tokens scored. */
    static List<Sample> pretrainingCorpus(Random r, TextTokenizer tok, Set<String> held, int vocab) {
        SampleEncoder enc = new SampleEncoder(tok, true, vocab);
        List<Sample> out = new ArrayList<>();
        for (String w : Skills.words(r, 12000, held)) out.add(enc.encode(chat(Skills.copy(w))));
        for (int rep = 0; rep < 40; rep++)
            for (char c = 'a'; c <= 'z'; c++) out.add(enc.encode(chat(Skills.next(c))));
        Collections.shuffle(out, r);
        return out;
    }

    static ObjectNode chat(Skills.Task t) {
        ObjectNode o = LINE.createObjectNode();
        ArrayNode m = o.putArray("messages");
        m.addObject().put("role", "user").put("content", t.prompt());
        m.addObject().put("role", "assistant").put("content", t.answer());
        return o;
    }

    static void writeChat(Path file, List<Skills.Task> tasks) throws IOException {
        StringBuilder b = new StringBuilder();
        for (Skills.Task t : tasks) b.append(LINE.writeValueAsString(chat(t))).append('\n');
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, b);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Small normal init (std 0.02, as transformers' Llama), norms at one. */
    static Map<String, Tensor> initialWeights(LlamaConfig c) {
        Map<String, Tensor> w = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : ModelLoader.expectedTensors(c).entrySet()) {
            Tensor t = e.getKey().endsWith("norm.weight") ? torch.ones(e.getValue()) : torch.randn(e.getValue()).mul(new org.bytedeco.pytorch.Scalar(0.02));
            w.put(e.getKey(), t.retainReference());
        }
        return w;
    }

    /** Every tensor of the model by its Hugging Face name (shared storage, not copies). */
    static Map<String, Tensor> stateDict(LlamaModel m) {
        Map<String, Tensor> s = new LinkedHashMap<>();
        s.put("model.embed_tokens.weight", m.embeddingWeight());
        for (DecoderLayer l : m.layers()) {
            String p = DecoderLayer.pathPrefix(l.index());
            s.put(p + "input_layernorm.weight", l.inputNorm().weight());
            s.put(p + "post_attention_layernorm.weight", l.postAttentionNorm().weight());
            for (Projection pr : l.projections().values()) s.put(pr.path() + ".weight", ((DenseLinear) pr.base()).weight());
        }
        s.put("model.norm.weight", m.finalNorm().weight());
        s.put("lm_head.weight", ((DenseLinear) m.lmHead()).weight());
        return s;
    }

    /** Full-parameter pre-training: plain autograd through the whole (tiny) model, AdamW, warmup + cosine. */
    static void pretrain(LlamaModel model, List<Sample> corpus, int steps, java.io.PrintStream log) {
        Map<String, Tensor> params = stateDict(model);
        TensorVector pv = new TensorVector();
        for (Tensor t : params.values()) {
            t.requires_grad_(true);
            pv.push_back(t);
        }
        AdamWOptions opts = new AdamWOptions(LR);
        opts.weight_decay().put(0.0);
        AdamW opt = new AdamW(pv, opts);
        DataLoader loader = new DataLoader(corpus, SEQ_LEN, BATCH, true, true, SEED, ByteLevelTokenizerFiles.PAD);
        long t0 = System.nanoTime();
        for (int step = 1; step <= steps; step++) {
            double lr = step <= WARMUP ? LR * step / WARMUP
                    : MIN_LR + 0.5 * (LR - MIN_LR) * (1 + Math.cos(Math.PI * (step - WARMUP) / (steps - WARMUP)));
            opt.param_groups().get(0).options().set_lr(lr);
            try (PointerScope scope = new PointerScope()) {
                Batch b = loader.next();
                Tensor h = model.embed(b.inputIdsTensor());
                var ctx = model.packedContext(b.positionIdsTensor(), b.sequenceIdsTensor());
                h = LayerRunner.forward(model, h, (l, x) -> l.forward(x, ctx), LayerRunner.BeforeLayer.NONE);
                NextTokenLoss.Sum nll = NextTokenLoss.value(model, h, b.labelsTensor());
                Tensor loss = nll.nll().div(new org.bytedeco.pytorch.Scalar((double) nll.tokens()));
                opt.zero_grad();
                loss.backward();
                opt.step();
                if (step % 100 == 0 || step == 1)
                    log.printf("pretrain step %4d/%d  loss %.4f  lr %.2e  %.1fs%n", step, steps, org.qoft4j.core.HostReads.scalar(loss), lr, (System.nanoTime() - t0) / 1e9);
            }
        }
        for (Tensor t : params.values()) t.requires_grad_(false);
    }

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "test-data");
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : PRETRAIN_STEPS;
        generate(out, steps, System.out);
    }
}
