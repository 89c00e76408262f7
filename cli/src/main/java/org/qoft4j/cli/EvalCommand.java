package org.qoft4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.qoft4j.model.AdapterSet;
import org.qoft4j.data.JsonlDataset;
import org.qoft4j.data.SampleEncoder;
import org.qoft4j.trainer.eval.Evaluator;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.data.tokenizer.TextTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code qoft4j eval}: mean next-token loss and perplexity of a model on a JSONL file, as one JSON object. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Evaluates a model on a JSONL dataset and prints one JSON object: loss (mean next-token NLL over scored tokens), "
                + "perplexity, tokens, ...", "Records: {\"text\"}, alpaca {\"instruction\",\"input\",\"output\"}, chat {\"messages\"} or "
                + "{\"input_ids\"[,\"labels\"]}. Only completion / assistant tokens are scored unless --train-on-prompt."})
public final class EvalCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "JSONL file")
    Path data;

    @Option(names = "--seq-len", defaultValue = "512", description = "tokens per row; longer samples are truncated (default: ${DEFAULT-VALUE})")
    int seqLen;

    @Option(names = "--batch-size", defaultValue = "4", description = "rows per batch (default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = "--max-samples", defaultValue = "0", description = "evaluate the first N samples (default: all)")
    int maxSamples;

    @Option(names = "--no-packing", description = "one sample per row, padded (default: pack several samples per row, attention kept per sample)")
    boolean noPacking;

    @Option(names = "--train-on-prompt", description = "score prompt / non-assistant tokens too")
    boolean trainOnPrompt;

    @Option(names = "--skip-malformed", description = "skip and count malformed lines instead of failing")
    boolean skipMalformed;

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        TextTokenizer tok = model.loadTokenizerIfPresent();
        AdapterSet adapter = null;
        try (LlamaModel m = model.load()) {
            adapter = model.openAdapter(m);
            JsonlDataset ds = JsonlDataset.read(data, new SampleEncoder(tok, trainOnPrompt, m.config().vocabSize()), skipMalformed, maxSamples);
            Evaluator.Result r = Evaluator.evaluate(m, ds.samples(), seqLen, batchSize, !noPacking);
            double seconds = (System.nanoTime() - start) / 1e9;
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("loss", r.loss());
            o.put("perplexity", r.perplexity());
            o.put("tokens", r.tokens());
            o.put("samples", r.samples());
            o.put("batches", r.batches());
            o.put("truncated_samples", r.truncated());
            o.put("skipped_lines", ds.skipped());
            o.put("model", model.model.toString());
            if (adapter != null) o.put("adapter", model.adapter.toString());
            o.put("data", data.toString());
            o.put("quant", model.quant.key());
            o.put("dtype", m.dtype().intern().toString());
            o.put("packing", !noPacking);
            o.put("seconds", Math.round(seconds * 1000) / 1000.0);
            System.out.println(o);
            if (r.truncated() > 0) System.err.println(r.truncated() + " samples were longer than --seq-len " + seqLen + " and were truncated");
            if (ds.skipped() > 0) System.err.println("skipped " + ds.skipped() + " malformed lines, e.g. " + ds.skipReasons().get(0));
        } finally {
            if (adapter != null) adapter.close();
            if (tok != null) tok.close();
        }
        return 0;
    }
}
