package org.qoft4j.adapters;

import org.bytedeco.pytorch.Tensor;
import org.qoft4j.quant.linear.LinearLayer;

import java.util.List;
import java.util.Map;

/**
 * A frozen linear layer with a trainable adapter. Independent of where the layer sits in a model: files and the
 * trainer name layers by module path ({@code model.layers.0.self_attn.q_proj}) in maps of adapters.
 * The base layer is only read; {@link #parameters()} are the only tensors that require grad.
 */
public sealed interface AdapterLayer extends AutoCloseable permits OftAdapter, LoraLayer {
    /** {@code x [..., in]} (fp32 or bf16/fp16) to {@code [..., out]} in x's dtype. */
    Tensor forward(Tensor x);

    /** The trainable tensors (float32 leaves that require grad), owned by the layer. */
    List<Tensor> parameters();

    LinearLayer base();

    default long trainableParameterCount() {
        long n = 0;
        for (Tensor p : parameters()) n += p.numel();
        return n;
    }

    /** The parameters by PEFT's per-module suffix ({@code oft_R.weight}, {@code lora_A.weight}, {@code lora_B.weight}). */
    Map<String, Tensor> stateDict();

    /** Copies values into the parameters; needs exactly the names of {@link #stateDict()} with the same shapes. */
    void loadStateDict(Map<String, Tensor> values);

    /** Training mode turns on LoRA dropout; layers start in training mode. */
    void train(boolean on);

    boolean isTraining();

    /** Releases the adapter's own tensors (not the base layer). */
    @Override
    void close();
}
