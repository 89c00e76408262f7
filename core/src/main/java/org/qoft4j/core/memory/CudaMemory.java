package org.qoft4j.core.memory;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch_cuda;

/**
 * The CUDA caching allocator's statistics for one device: bytes allocated to tensors now and at peak (what
 * {@code torch.cuda.max_memory_allocated} reports). Only call with a CUDA device on a CUDA build.
 */
public final class CudaMemory {
    private CudaMemory() {}

    public static long peakAllocatedBytes(Device device) {
        // allocated_bytes is a StatArray; element 0 is the aggregate over small and large pools
        return torch_cuda.getAllocator().getDeviceStats(index(device)).allocated_bytes().peak();
    }

    public static long allocatedBytes(Device device) {
        return torch_cuda.getAllocator().getDeviceStats(index(device)).allocated_bytes().current();
    }

    public static void resetPeak(Device device) {
        torch_cuda.getAllocator().resetPeakStats(index(device));
    }

    private static byte index(Device device) {
        if (!device.is_cuda()) throw new IllegalArgumentException("not a CUDA device: " + device.str().getString());
        return device.has_index() ? device.index() : torch_cuda.current_device();
    }
}
