// llama.cpp as a test peer for qoft4j's GGUF export (gguf module, LlamaCppPeer).
//
//   node scripts/llama-peer.mjs REQUEST.json RESULT.json
//
// Loads the GGUF file named in the request with the prebuilt llama.cpp of the npm package node-llama-cpp
// (CPU only, never builds, no network), runs the requests in order on one context sequence, and writes
// the answers as JSON. The package is found under $QOFT4J_NODE_LLAMA_CPP (default
// ~/.cache/qoft4j/node-llama-cpp, where .ci/run installs it).
//
// Request: {"model": "x.gguf", "contextSize": 512, "threads": 1, "kvCacheType": "F32" (optional), "flashAttention": false (optional),
//           "requests": [
//   {"op": "tokenize", "text": "...", "special": true}          -> {"tokens": [...]}
//   {"op": "greedy", "tokens": [...], "maxTokens": 16, "stop": [2]}
//        -> {"tokens": [...]}: argmax of the logits, token by token, until a stop token (included) or maxTokens
//   {"op": "logprobs", "tokens": [...]}
//        -> {"logprobs": [...]}: log p(tokens[i+1] | tokens[0..i]) for i = 0 .. n-2, from the full logits (float64 log-softmax)
//   {"op": "logits", "tokens": [...]}   -> {"logits": [[...vocab...], ...]}: the raw logits after every token
// ]}
// Result: {"results": [...]}
import {readFile, writeFile} from "node:fs/promises";
import {homedir} from "node:os";
import {join, resolve} from "node:path";
import {pathToFileURL} from "node:url";

const [requestFile, resultFile] = process.argv.slice(2);
if (!requestFile || !resultFile) {
    console.error("usage: node scripts/llama-peer.mjs REQUEST.json RESULT.json");
    process.exit(2);
}
const dir = process.env.QOFT4J_NODE_LLAMA_CPP || join(homedir(), ".cache", "qoft4j", "node-llama-cpp");
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(resolve(dir, "node_modules", "node-llama-cpp", "dist", "index.js")).href);

const request = JSON.parse(await readFile(requestFile, "utf8"));
// one thread by default: ggml's worker threads spin while they wait for each other, which on a tiny model and a busy
// machine made 2 threads ~15x slower than 1 (100 short evaluations: 58 s vs 3.6 s)
const threads = request.threads ?? 1;
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads});
const model = await llama.loadModel({modelPath: request.model, gpuLayers: 0});
const contextSize = request.contextSize ?? 512;
// kvCacheType "F32" keeps attention keys and values in float32 (llama.cpp's default, F16, rounds them)
const kv = request.kvCacheType ? {experimentalKvCacheKeyType: request.kvCacheType, experimentalKvCacheValueType: request.kvCacheType} : {};
const flash = request.flashAttention === undefined ? {} : {flashAttention: request.flashAttention};
const context = await model.createContext({contextSize, batchSize: contextSize, sequences: 1, threads, ...kv, ...flash});
const sequence = context.getSequence();
if (process.env.QOFT4J_PEER_DEBUG) console.error("kv cache", context.kvCacheKeyType, context.kvCacheValueType, "flash", context.flashAttention);

function rows(outputs, n) {
    const out = [];
    for (let i = 0; i < n; i++) {
        const logits = outputs[i]?.next?.logits;
        if (!logits) throw new Error(`no logits for position ${i}`);
        out.push(logits);
    }
    return out;
}

function dense(map, size) {
    const a = new Array(size).fill(Number.NEGATIVE_INFINITY);
    for (const [token, value] of map) a[token] = value;
    return a;
}

function argmax(map) {
    let best = -1, bestValue = Number.NEGATIVE_INFINITY;
    for (const [token, value] of map) if (value > bestValue || (value === bestValue && token < best)) {
        best = token;
        bestValue = value;
    }
    return best;
}

function logSoftmaxAt(map, token) {
    let max = Number.NEGATIVE_INFINITY;
    for (const v of map.values()) max = Math.max(max, v);
    let sum = 0;
    for (const v of map.values()) sum += Math.exp(v - max);
    return map.get(token) - max - Math.log(sum);
}

async function evaluateAll(tokens) {
    await sequence.clearHistory();
    const items = tokens.map((t) => [t, {generateNext: {logits: true}}]);
    return rows(await sequence.controlledEvaluate(items), tokens.length);
}

const results = [];
for (const r of request.requests) {
    if (r.op === "tokenize") {
        results.push({tokens: Array.from(model.tokenize(r.text, r.special ?? true))});
    } else if (r.op === "greedy") {
        await sequence.clearHistory();
        const stop = new Set(r.stop ?? []);
        const prompt = r.tokens;
        let outputs = await sequence.controlledEvaluate(prompt.map((t, i) => i === prompt.length - 1 ? [t, {generateNext: {logits: true}}] : t));
        let logits = outputs[prompt.length - 1].next.logits;
        const generated = [];
        while (generated.length < (r.maxTokens ?? 32)) {
            const next = argmax(logits);
            generated.push(next);
            if (stop.has(next) || generated.length >= (r.maxTokens ?? 32)) break;
            outputs = await sequence.controlledEvaluate([[next, {generateNext: {logits: true}}]]);
            logits = outputs[0].next.logits;
        }
        results.push({tokens: generated});
    } else if (r.op === "logprobs") {
        const logits = await evaluateAll(r.tokens);
        const lp = [];
        for (let i = 0; i + 1 < r.tokens.length; i++) lp.push(logSoftmaxAt(logits[i], r.tokens[i + 1]));
        results.push({logprobs: lp});
    } else if (r.op === "logits") {
        const logits = await evaluateAll(r.tokens);
        results.push({logits: logits.map((m) => dense(m, m.size))});
    } else {
        throw new Error(`unknown op ${r.op}`);
    }
}
await writeFile(resultFile, JSON.stringify({results}));
await context.dispose();
await model.dispose();
await llama.dispose();
