package org.qoft4j.gguf;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where the test peer, llama.cpp as the npm package node-llama-cpp ships it (prebuilt for linux-x64), is installed:
 * {@code $QOFT4J_NODE_LLAMA_CPP}, else {@code ~/.cache/qoft4j/node-llama-cpp} (outside the repository; {@code .ci/run}
 * installs it there: {@code npm install --prefix DIR node-llama-cpp@3.22}). Tests that need it skip, saying why,
 * when it is missing.
 */
final class NodeLlamaCpp {
    private NodeLlamaCpp() {}

    static Path dir() {
        String env = System.getenv("QOFT4J_NODE_LLAMA_CPP");
        return env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "qoft4j", "node-llama-cpp");
    }

    /** The package directory, when installed. */
    static Optional<Path> packageDir() {
        Path p = dir().resolve("node_modules/node-llama-cpp");
        return Files.isRegularFile(p.resolve("package.json")) ? Optional.of(p) : Optional.empty();
    }

    /** The prebuilt ggml library llama.cpp uses (its quantizers are the reference for ours), when installed. */
    static Optional<Path> ggmlBase() {
        Path p = dir().resolve("node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so");
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    static String missingReason() {
        return "llama.cpp peer not installed: node-llama-cpp is not under " + dir()
                + " (install: npm install --prefix " + dir() + " node-llama-cpp@3.22.1, as .ci/run does; or set QOFT4J_NODE_LLAMA_CPP)";
    }
}
