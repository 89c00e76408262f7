package org.qoft4j.trainer;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.qoft4j.core.safetensors.SafetensorsFile;
import org.qoft4j.core.safetensors.SafetensorsWriter;

/**
 * libtorch's default generators (CPU, and CUDA when training there): the only random state a run has besides the
 * seed-determined data order. LoRA dropout draws from them, so the recomputation replays a layer's generator state
 * to draw the same masks, and checkpoints save it so a resumed run draws what the uninterrupted one would have.
 */
public final class RngState {
    public static final String FILE = "rng.safetensors";

    private final Generator cpu;
    private final Generator cuda; // null when not on CUDA

    public RngState(Device device) {
        this.cpu = torch.globalContext().defaultGenerator(new Device("cpu"));
        this.cuda = device.is_cuda() ? torch.globalContext().defaultGenerator(device) : null;
    }

    /** Seeds every generator this run uses. */
    public void seed(long seed) {
        cpu.set_current_seed(seed);
        if (cuda != null) cuda.set_current_seed(seed);
    }

    /** The generators' state now: byte tensors, each a new tensor owned by the current scope. */
    public Snapshot capture() {
        return new Snapshot(cpu.get_state(), cuda == null ? null : cuda.get_state());
    }

    public void restore(Snapshot s) {
        cpu.set_state(s.cpu());
        if (cuda != null) {
            if (s.cuda() == null) throw new IllegalArgumentException("the saved random state has no CUDA generator, but this run uses CUDA");
            cuda.set_state(s.cuda());
        }
    }

    public void save(Path file) {
        try (PointerScope scope = new PointerScope()) {
            Snapshot s = capture();
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("cpu", s.cpu());
            if (s.cuda() != null) m.put("cuda", s.cuda());
            SafetensorsWriter.write(file, m, Map.of("format", "qoft4j-rng"));
        }
    }

    public void load(Path file) {
        try (PointerScope scope = new PointerScope(); SafetensorsFile f = SafetensorsFile.open(file)) {
            if (!f.contains("cpu")) throw new IllegalArgumentException(file + ": no 'cpu' generator state");
            restore(new Snapshot(f.load("cpu"), f.contains("cuda") ? f.load("cuda") : null));
        }
    }

    /** Generator states (uint8 tensors as libtorch's {@code get_state} returns them). */
    public record Snapshot(Tensor cpu, Tensor cuda) {}
}
