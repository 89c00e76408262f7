package org.qoft4j.core.safetensors;

import org.qoft4j.core.AtomicFiles;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/**
 * A safetensors output whose entries are not known in advance (a converter learns each output tensor's
 * size only after computing it, e.g. a quant_state JSON). Tensors are appended one at a time to a spill
 * file beside the target; {@link #commit()} then writes the real file in the Python library's layout by
 * copying from the spill file, and deletes it. Memory stays at one tensor; disk needs the output twice.
 */
public final class SafetensorsSpool implements AutoCloseable {
    private final Path target;
    private final Map<String, String> metadata;
    private final Path spill;
    private final FileChannel channel;
    private final Map<String, SafetensorsWriter.Entry> entries = new LinkedHashMap<>();
    private final Map<String, Long> positions = new HashMap<>();
    private long size;
    private boolean finished;

    private SafetensorsSpool(Path target, Map<String, String> metadata, Path spill, FileChannel channel) {
        this.target = target;
        this.metadata = metadata;
        this.spill = spill;
        this.channel = channel;
    }

    public static SafetensorsSpool create(Path target, Map<String, String> metadata) {
        Path spill = null;
        try {
            spill = AtomicFiles.tempBeside(target, ".spill");
            return new SafetensorsSpool(target, metadata, spill, FileChannel.open(spill, StandardOpenOption.READ, StandardOpenOption.WRITE));
        } catch (IOException e) {
            AtomicFiles.deleteQuietly(spill);
            throw new SafetensorsException(target, null, "cannot create spill file: " + e, e);
        }
    }

    /** Appends {@code t} (any device, any layout) under {@code name}. */
    public void add(String name, Tensor t) {
        if (finished) throw new SafetensorsException(target, name, "output is already committed or closed");
        if (entries.containsKey(name)) throw new SafetensorsException(target, name, "added twice");
        SafetensorsWriter.Entry e = SafetensorsWriter.Entry.of(name, t);
        try {
            TensorBytes.write(t, channel, size, e.byteLength());
        } catch (IOException ex) {
            close();
            throw new SafetensorsException(target, name, "cannot write spill data: " + ex, ex);
        }
        entries.put(name, e);
        positions.put(name, size);
        size += e.byteLength();
    }

    /** Appends tensor {@code name} of {@code src} under the same name, byte for byte, without loading it. */
    public void copy(SafetensorsFile src, String name) {
        if (finished) throw new SafetensorsException(target, name, "output is already committed or closed");
        if (entries.containsKey(name)) throw new SafetensorsException(target, name, "added twice");
        TensorInfo info = src.info(name);
        try {
            src.transferTo(name, channel, size);
        } catch (SafetensorsException e) {
            close();
            throw e;
        }
        entries.put(name, new SafetensorsWriter.Entry(name, info.dtype(), info.shape()));
        positions.put(name, size);
        size += info.byteLength();
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** The entries added so far, in the order added. */
    public List<SafetensorsWriter.Entry> entries() {
        return new ArrayList<>(entries.values());
    }

    /** Total data bytes added so far. */
    public long dataBytes() {
        return size;
    }

    /** Writes the target atomically (Python layout) from the spill file, then deletes the spill file. */
    public void commit() {
        if (finished) throw new SafetensorsException(target, null, "output is already committed or closed");
        try (SafetensorsWriter w = SafetensorsWriter.create(target, metadata, SafetensorsWriter.pythonOrder(entries()))) {
            for (String name : entries.keySet()) w.transferFrom(name, channel, positions.get(name));
            w.commit();
        } finally {
            close();
        }
    }

    @Override
    public void close() {
        if (finished) return;
        finished = true;
        try {
            channel.close();
        } catch (IOException ignored) {
            // deleted next
        }
        AtomicFiles.deleteQuietly(spill);
    }

}
