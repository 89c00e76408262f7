package org.qoft4j.trainer.train;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.*;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.Tensors;
import java.util.Arrays;

class ProbeTest {
    @Test
    void probe() throws Exception {
        double b1 = 0.5, b2 = 0.9, lr = 0.1, eps = 1e-8;
        Tensor p = Tensors.of(new float[]{1f}, 1).detach().set_requires_grad(true);
        AdamWOptions o = new AdamWOptions(lr);
        o.betas().put(0, b1).put(1, b2);
        o.weight_decay().put(0.0);
        o.eps().put(eps);
        System.out.println("betas " + o.betas().get(0) + " " + o.betas().get(1) + " wd " + o.weight_decay().get());
        AdamW opt = new AdamW(new TensorVector(p), o);
        double x = 1, m = 0, v = 0;
        for (int t = 1; t <= 3; t++) {
            opt.zero_grad();
            p.pow(new Scalar(2.0)).sum().backward();
            opt.step();
            double g = 2 * x;
            m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g * g;
            x -= lr * (m / (1 - Math.pow(b1, t))) / (Math.sqrt(v / (1 - Math.pow(b2, t))) + eps);
        }
        double xs = x; x = 1; m = 0; v = 0;
        for (int t = 1; t <= 3; t++) {
            double g = 2 * x;
            m = b2 * m + (1 - b2) * g; v = b1 * v + (1 - b1) * g * g;
            x -= lr * (m / (1 - Math.pow(b2, t))) / (Math.sqrt(v / (1 - Math.pow(b1, t))) + eps);
        }
        System.out.println("torch " + Tensors.toFloats(p)[0] + " manual " + xs + " swapped " + x);
    }
}
