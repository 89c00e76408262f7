package org.qoft4j.core.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The validated header of a safetensors file: 8-byte little-endian length N, N bytes of UTF-8 JSON,
 * then the data section, which the tensors must cover exactly (no gap, no overlap, nothing left over).
 * Every rule is checked here, in Java, before any byte of tensor data is touched.
 */
public final class SafetensorsHeader {
    /** Largest header accepted (the same limit as the Python/Rust safetensors library). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    static final String METADATA_KEY = "__metadata__";
    private static final Set<String> ENTRY_KEYS = Set.of("dtype", "shape", "data_offsets");
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Map<String, String> metadata;
    private final Map<String, TensorInfo> tensors;   // in header order
    private final long headerLength;

    private SafetensorsHeader(Map<String, String> metadata, Map<String, TensorInfo> tensors, long headerLength) {
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = Collections.unmodifiableMap(tensors);
        this.headerLength = headerLength;
    }

    /** {@code __metadata__} (empty when absent), in header order. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Tensors by name, in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** N, the JSON length in bytes. */
    public long headerLength() {
        return headerLength;
    }

    /** Absolute file offset of the data section: 8 + N. */
    public long dataStart() {
        return 8 + headerLength;
    }

    /**
     * The header length N from the first 8 bytes, checked against the file size and the size limit.
     *
     * @param first8 the first min(8, fileSize) bytes of the file
     */
    static long headerLength(Path file, byte[] first8, long fileSize) {
        if (fileSize < 8 || first8.length < 8)
            throw new SafetensorsException(file, null, "file has " + fileSize + " bytes, fewer than the 8-byte header length (truncated or not a safetensors file)");
        long n = ByteBuffer.wrap(first8, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (n < 0 || n > MAX_HEADER_BYTES)
            throw new SafetensorsException(file, null, "header length " + Long.toUnsignedString(n) + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
        if (8 + n > fileSize)
            throw new SafetensorsException(file, null, "header length " + n + " runs past the end of the file (" + fileSize + " bytes): truncated file");
        return n;
    }

    /**
     * Parses and validates a whole header from the start of a file.
     *
     * @param fileStart at least the first min(fileSize, 8 + N) bytes of the file
     * @param fileSize  the file's size in bytes
     */
    public static SafetensorsHeader parse(Path file, byte[] fileStart, long fileSize) {
        long n = headerLength(file, Arrays.copyOf(fileStart, Math.min(8, fileStart.length)), fileSize);
        if (fileStart.length < 8 + n)
            throw new SafetensorsException(file, null, "only " + fileStart.length + " bytes given for a header of " + n + " bytes");
        return parseJson(file, Arrays.copyOfRange(fileStart, 8, (int) (8 + n)), fileSize - 8 - n);
    }

    /** Parses and validates the JSON header against a data section of {@code dataLength} bytes. */
    static SafetensorsHeader parseJson(Path file, byte[] json, long dataLength) {
        String text = decodeUtf8(file, json);
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        JsonParser p;
        try {
            p = JSON.createParser(text);
        } catch (java.io.IOException e) {
            throw new SafetensorsException(file, null, "cannot parse header: " + e.getMessage(), e);
        }
        try (p) {
            JsonToken first = p.nextToken();
            if (first != JsonToken.START_OBJECT)
                throw new SafetensorsException(file, null, "header must be a JSON object, found " + (first == null ? "nothing" : first.asString() == null ? first.name() : "'" + first.asString() + "'"));
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                p.nextToken();
                JsonNode value = p.readValueAsTree();
                if (key.equals(METADATA_KEY)) readMetadata(file, value, metadata);
                else tensors.put(key, readEntry(file, key, value, dataLength));
            }
            if (p.nextToken() != null) throw new SafetensorsException(file, null, "header has content after the closing brace of its JSON object");
        } catch (JsonProcessingException e) {
            // The parser detects duplicate keys at every level; one at the top level is a tensor named twice.
            JsonStreamContext ctx = p.getParsingContext();
            if (e.getOriginalMessage().startsWith("Duplicate field") && ctx.getParent() != null && ctx.getParent().inRoot())
                throw new SafetensorsException(file, ctx.getCurrentName(), "name appears twice in the header", e);
            throw new SafetensorsException(file, null, "header is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (java.io.IOException e) {
            throw new SafetensorsException(file, null, "cannot parse header: " + e.getMessage(), e);
        }
        checkCoverage(file, tensors.values(), dataLength);
        return new SafetensorsHeader(metadata, tensors, json.length);
    }

    private static String decodeUtf8(Path file, byte[] json) {
        try {
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(json));
            return chars.toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(file, null, "header is not valid UTF-8", e);
        }
    }

    private static void readMetadata(Path file, JsonNode node, Map<String, String> out) {
        if (node.isNull()) return;
        if (!node.isObject())
            throw new SafetensorsException(file, null, METADATA_KEY + " must be an object of strings, found " + node.getNodeType().toString().toLowerCase());
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual())
                throw new SafetensorsException(file, null, METADATA_KEY + " value of '" + e.getKey() + "' must be a string, found "
                        + e.getValue().getNodeType().toString().toLowerCase());
            out.put(e.getKey(), e.getValue().textValue());
        }
    }

    private static TensorInfo readEntry(Path file, String name, JsonNode node, long dataLength) {
        if (!node.isObject())
            throw new SafetensorsException(file, name, "entry must be an object with dtype, shape and data_offsets");
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!ENTRY_KEYS.contains(k)) throw new SafetensorsException(file, name, "unexpected key '" + k + "' (expected dtype, shape, data_offsets)");
        }
        JsonNode dt = node.get("dtype");
        if (dt == null || !dt.isTextual()) throw new SafetensorsException(file, name, "dtype must be a string");
        DType dtype = DType.fromName(dt.textValue());
        if (dtype == null)
            throw new SafetensorsException(file, name, "unknown dtype '" + dt.textValue() + "' (supported: " + Arrays.toString(DType.values()) + ")");
        long[] shape = nonNegativeInts(file, name, "shape", node.get("shape"), -1);
        long[] offsets = nonNegativeInts(file, name, "data_offsets", node.get("data_offsets"), 2);
        long begin = offsets[0], end = offsets[1];
        if (begin > end) throw new SafetensorsException(file, name, "data_offsets begin " + begin + " is after end " + end);
        if (end > dataLength)
            throw new SafetensorsException(file, name, "data_offsets [" + begin + ", " + end + "] run past the data section of " + dataLength + " bytes");
        long bytes;
        try {
            bytes = Math.multiplyExact(TensorInfo.numel(shape), dtype.size());
        } catch (ArithmeticException e) {
            throw new SafetensorsException(file, name, "shape " + Arrays.toString(shape) + " overflows a 64-bit byte count");
        }
        if (bytes != end - begin)
            throw new SafetensorsException(file, name, "shape " + Arrays.toString(shape) + " x " + dtype + " (" + dtype.size() + " bytes) needs "
                    + bytes + " bytes but data_offsets [" + begin + ", " + end + "] hold " + (end - begin));
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static long[] nonNegativeInts(Path file, String name, String key, JsonNode node, int expectedLength) {
        if (node == null || !node.isArray())
            throw new SafetensorsException(file, name, key + " must be an array of integers");
        if (expectedLength >= 0 && node.size() != expectedLength)
            throw new SafetensorsException(file, name, key + " must have " + expectedLength + " entries, found " + node.size());
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong())
                throw new SafetensorsException(file, name, key + "[" + i + "] must be an integer, found " + v);
            out[i] = v.longValue();
            if (out[i] < 0) throw new SafetensorsException(file, name, key + "[" + i + "] is negative (" + out[i] + ")");
        }
        return out;
    }

    /** Tensors sorted by offset must tile [0, dataLength) exactly. */
    private static void checkCoverage(Path file, java.util.Collection<TensorInfo> infos, long dataLength) {
        List<TensorInfo> sorted = new ArrayList<>(infos);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expected = 0;
        String previous = null;
        for (TensorInfo t : sorted) {
            if (t.begin() < expected)
                throw new SafetensorsException(file, t.name(), "data_offsets [" + t.begin() + ", " + t.end() + "] overlap tensor '" + previous
                        + "' which ends at " + expected);
            if (t.begin() > expected)
                throw new SafetensorsException(file, t.name(), "bytes [" + expected + ", " + t.begin() + ") of the data section before this tensor belong to no tensor");
            expected = t.end();
            previous = t.name();
        }
        if (expected != dataLength)
            throw new SafetensorsException(file, null, "the data section has " + dataLength + " bytes but the tensors cover only " + expected
                    + " (trailing bytes or truncated header)");
    }
}
