package org.qoft4j.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * llama.cpp itself, through {@code scripts/llama-peer.mjs} (node-llama-cpp's prebuilt binaries, CPU): one node
 * process per batch of requests on one GGUF file. {@link #assumeAvailable()} skips the calling test, saying why,
 * when node, the script or the package is missing.
 */
final class LlamaCppPeer {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path model;
    private final ObjectNode request = JSON.createObjectNode();
    private final ArrayNode requests;

    private LlamaCppPeer(Path model, int contextSize) {
        this.model = model;
        request.put("model", model.toAbsolutePath().toString());
        request.put("contextSize", contextSize);
        request.put("threads", 1); // see scripts/llama-peer.mjs: more threads spin-wait, far slower on these tiny models
        requests = request.putArray("requests");
    }

    static LlamaCppPeer on(Path gguf, int contextSize) {
        return new LlamaCppPeer(gguf, contextSize);
    }

    static Path script() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path s = p.resolve("scripts/llama-peer.mjs");
            if (Files.isRegularFile(s)) return s;
        }
        return null;
    }

    static boolean available() {
        return script() != null && nodeVersion() != null && NodeLlamaCpp.packageDir().isPresent();
    }

    static void assumeAvailable() {
        Assumptions.assumeTrue(script() != null, "scripts/llama-peer.mjs not found above " + Path.of("").toAbsolutePath());
        Assumptions.assumeTrue(nodeVersion() != null, "node is not on PATH (the llama.cpp peer runs in node 18+)");
        Assumptions.assumeTrue(NodeLlamaCpp.packageDir().isPresent(), NodeLlamaCpp::missingReason);
    }

    private static String nodeVersion() {
        try {
            Process p = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
            String v = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0 ? v : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** Keeps llama.cpp's KV cache in float32 (its default, f16, rounds keys and values) and turns flash attention off. */
    LlamaCppPeer f32Attention() {
        request.put("kvCacheType", "F32");
        request.put("flashAttention", false);
        return this;
    }

    /** Tokens of {@code text}, special-token strings parsed, nothing added. */
    LlamaCppPeer tokenize(String text) {
        requests.addObject().put("op", "tokenize").put("text", text).put("special", true);
        return this;
    }

    /** Greedy continuation of {@code prompt}: argmax token by token, until a stop token (kept) or {@code maxTokens}. */
    LlamaCppPeer greedy(long[] prompt, int maxTokens, long... stop) {
        ObjectNode r = requests.addObject().put("op", "greedy").put("maxTokens", maxTokens);
        ArrayNode t = r.putArray("tokens");
        for (long x : prompt) t.add(x);
        ArrayNode s = r.putArray("stop");
        for (long x : stop) s.add(x);
        return this;
    }

    /** log p(tokens[i+1] | tokens[..i]) for every position. */
    LlamaCppPeer logprobs(long[] tokens) {
        ArrayNode t = requests.addObject().put("op", "logprobs").putArray("tokens");
        for (long x : tokens) t.add(x);
        return this;
    }

    /** The raw logits after every token. */
    LlamaCppPeer logits(long[] tokens) {
        ArrayNode t = requests.addObject().put("op", "logits").putArray("tokens");
        for (long x : tokens) t.add(x);
        return this;
    }

    /** Runs the requests; one result object per request, in order. */
    List<JsonNode> run() {
        try {
            Path dir = Files.createTempDirectory("llama-peer");
            try {
                Path req = dir.resolve("request.json"), res = dir.resolve("result.json"), log = dir.resolve("log.txt");
                JSON.writeValue(req.toFile(), request);
                Process p = new ProcessBuilder("node", script().toString(), req.toString(), res.toString()).redirectErrorStream(true)
                        .redirectOutput(log.toFile()).start();
                if (!p.waitFor(300, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    throw new IllegalStateException("llama.cpp peer on " + model + " did not finish in 300 s");
                }
                if (p.exitValue() != 0)
                    throw new IllegalStateException("llama.cpp peer failed on " + model + " (exit " + p.exitValue() + "):\n" + Files.readString(log));
                List<JsonNode> out = new ArrayList<>();
                JSON.readTree(res.toFile()).get("results").forEach(out::add);
                return out;
            } finally {
                org.qoft4j.core.AtomicFiles.deleteQuietly(dir);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static long[] longs(JsonNode a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asLong();
        return out;
    }

    static double[] doubles(JsonNode a) {
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asDouble();
        return out;
    }
}
