package org.qoft4j.bench;

import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.*;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.quant.linear.LinearLayer;
import org.qoft4j.trainer.model.*;

public final class TrainProbe {
    static long t() { return System.nanoTime(); }
    public static void main(String[] a) {
        torch.set_num_threads(Integer.parseInt(a[1]));
        LlamaConfig shape = new LlamaConfig(ModelFamily.LLAMA, List.of(), 1024, 2816, 2, 16, 16, 64, 32000, 1e-5, 10000, null, 4096,
                false, false, false, false, false, 0, 1L, List.of(2L), null);
        try (PointerScope scope = new PointerScope(); LlamaModel m = ModelLoader.build(shape, new RandomWeights(shape, 1), LoadOptions.cpu().withQuant(LoadOptions.parseQuant(a[0])))) {
            Tensor ids = torch.randint(32000, new long[]{1, 256}, new TensorOptions(ScalarType.Long));
            AttentionContext ctx = m.causalContext(1, 256);
            Tensor h;
            try (NoGradGuard g = new NoGradGuard()) { h = m.embed(ids); }
            LinearLayer up = m.layer(0).projection("mlp.up_proj").base();
            Tensor x = torch.randn(new long[]{256, 1024});
            for (int rep = 0; rep < 3; rep++) {
                long t0 = t();
                try (PointerScope s = new PointerScope()) { up.dequantizedWeight(ScalarType.Float); }
                long t1 = t();
                try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) { up.forward(x); }
                long t2 = t();
                try (PointerScope s = new PointerScope()) { torch.matmul(x, torch.randn(new long[]{2816, 1024}).t()); }
                long t3 = t();
                try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) { m.layer(0).forward(h, ctx); }
                long t4 = t();
                try (PointerScope s = new PointerScope()) {
                    Tensor xi = h.detach().set_requires_grad(true);
                    Tensor out = m.layer(0).forward(xi, ctx);
                    long t5 = t();
                    torch.backward(new TensorVector(out), new TensorVector(torch.ones_like(out)), new BoolOptional(false), false, new TensorVector());
                    long t6 = t();
                    System.out.printf("dequant up %.0f ms, up fwd nograd %.0f ms, dense matmul %.0f ms, layer fwd nograd %.0f ms, layer fwd grad %.0f ms, layer bwd %.0f ms%n",
                            (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6, (t4 - t3) / 1e6, (t5 - t4) / 1e6, (t6 - t5) / 1e6);
                }
            }
        }
    }
}
