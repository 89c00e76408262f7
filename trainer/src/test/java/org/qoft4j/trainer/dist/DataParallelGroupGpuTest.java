package org.qoft4j.trainer.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.qoft4j.core.Tensors;

/**
 * The group on one CUDA device (a group of one: lent machines have one GPU, and NCCL refuses two ranks on one
 * device): NCCL, which {@code auto} must pick on CUDA in the gpu build, and Gloo with CUDA tensors (host copies).
 * A multi-GPU run waits for a multi-GPU machine.
 */
@Tag("gpu")
class DataParallelGroupGpuTest {
    static final Device CUDA = new Device("cuda:0");

    @BeforeEach
    void needsCuda() {
        Assumptions.assumeTrue(torch.cuda_is_available(), "needs a CUDA device (mvn -Pgpu)");
    }

    @ParameterizedTest
    @EnumSource(value = DistOptions.Backend.class, names = {"AUTO", "GLOO"})
    void collectivesOnCudaTensors(DistOptions.Backend backend) throws IOException {
        DistEnv env = new DistEnv(0, 1, 0, 1, "127.0.0.1", DataParallelGroupTest.freePort());
        DistOptions o = DataParallelGroupTest.quick(Duration.ofSeconds(30)).withBackend(backend).withBucketBytes(4096);
        try (DataParallelGroup g = DataParallelGroup.join(env, o, CUDA); PointerScope scope = new PointerScope()) {
            assertEquals(backend == DistOptions.Backend.AUTO ? DistOptions.Backend.NCCL : DistOptions.Backend.GLOO, g.backend(),
                    "auto on CUDA picks NCCL in the gpu build");
            List<Tensor> ts = new ArrayList<>();
            List<float[]> before = new ArrayList<>();
            for (int i = 0; i < GroupProbe.SIZES.length; i++) {
                ts.add(GroupProbe.values(0, i).to(CUDA, torch.ScalarType.Float));
                before.add(Tensors.toFloats(ts.get(i)));
            }
            try (PendingAllReduce p = g.allReduceSumAsync(ts)) {
                p.await();
                assertTrue(p.bucketCount() > 1);
            }
            for (int i = 0; i < ts.size(); i++) {
                assertTrue(ts.get(i).is_cuda());
                assertArrayEquals(before.get(i), Tensors.toFloats(ts.get(i)), "tensor " + i);
            }
            assertArrayEquals(new double[] {3, 1e12}, g.allReduceSum(3, 1e12), 0);
            Tensor param = torch.ones(5).to(CUDA, torch.ScalarType.Float);
            g.broadcast(List.of(param), 0);
            assertArrayEquals(new float[] {1, 1, 1, 1, 1}, Tensors.toFloats(param));
            assertEquals("abc", new String(g.allGather("abc".getBytes(StandardCharsets.UTF_8)).get(0), StandardCharsets.UTF_8));
            g.barrier();
        }
    }
}
