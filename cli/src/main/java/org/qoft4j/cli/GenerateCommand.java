package org.qoft4j.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.qoft4j.model.AdapterSet;
import org.qoft4j.model.GenerationConfig;
import org.qoft4j.model.Generator;
import org.qoft4j.model.LlamaModel;
import org.qoft4j.data.tokenizer.ChatMessage;
import org.qoft4j.data.tokenizer.TextTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code qoft4j generate}: continue a prompt (or answer it as a chat turn) with a KV cache. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generates text from a prompt: greedy by default, or temperature / top-p sampling with a seed. "
                + "Stops at an EOS token or after --max-new-tokens. The continuation goes to stdout, statistics to stderr.")
public final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT")
    String prompt;

    @Option(names = "--chat", description = "wrap the prompt as a user message in the model's chat template, with the generation prompt")
    boolean chat;

    @Option(names = "--system", paramLabel = "TEXT", description = "system message (with --chat)")
    String system;

    @Option(names = "--max-new-tokens", defaultValue = "128", description = "default: ${DEFAULT-VALUE}")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default: ${DEFAULT-VALUE})")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "nucleus sampling mass (default: ${DEFAULT-VALUE})")
    double topP;

    @Option(names = "--seed", defaultValue = "0", description = "sampling seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Override
    public Integer call() {
        AdapterSet adapter = null;
        try (TextTokenizer tok = model.loadTokenizer(); LlamaModel m = model.load()) {
            adapter = model.openAdapter(m);
            long[] ids;
            if (chat) {
                List<ChatMessage> messages = new ArrayList<>();
                if (system != null) messages.add(ChatMessage.system(system));
                messages.add(ChatMessage.user(prompt));
                ids = tok.encodeChat(messages, true);
            } else {
                if (system != null) throw new IllegalArgumentException("--system needs --chat");
                ids = tok.encode(prompt);
            }
            Set<Long> stop = tok.stopTokenIds(m.config().eosTokenIds(), model.modelDir());
            GenerationConfig g = new GenerationConfig(maxNewTokens, temperature, topP, seed, stop);
            long start = System.nanoTime();
            Generator.Result r = Generator.generate(m, ids, g);
            double seconds = (System.nanoTime() - start) / 1e9;
            long[] out = r.tokens();
            if (r.finishReason() == Generator.FinishReason.STOP_TOKEN) out = java.util.Arrays.copyOf(out, out.length - 1);
            System.out.println(tok.decode(out, true));
            System.err.printf("[%d prompt tokens, %d new tokens in %.2f s (%.1f tokens/s), stopped by %s]%n", ids.length, r.tokens().length, seconds,
                    r.tokens().length / seconds, r.finishReason() == Generator.FinishReason.STOP_TOKEN ? "EOS" : "the token limit");
        } finally {
            if (adapter != null) adapter.close();
        }
        return 0;
    }
}
