package org.qoft4j.model;

import org.qoft4j.core.OpenMp;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.core.Tensors;
import org.qoft4j.quant.linear.LinearLayer;

/**
 * A Llama-family decoder: token embedding, {@link DecoderLayer}s, final RMSNorm and the language-model head.
 * The pieces are exposed separately ({@link #embed}, {@link #layer}, {@link #finalNormAndHead}) so a training
 * loop can run and recompute one layer at a time; {@link #forward(Tensor)} chains them.
 *
 * <p>Tensors live on {@link #device()}; activations are in {@link #dtype()} (fp32 by default, bf16 on CUDA),
 * norms compute in fp32. Build one with {@link ModelLoader} or {@link Llama2cLoader}.
 */
public final class LlamaModel implements AutoCloseable {
    static {
        OpenMp.preferPassiveWaiting(); // before libtorch loads: libgomp reads it once
    }

    /** Label value that is not scored (PyTorch's cross-entropy {@code ignore_index}). */
    public static final long IGNORE_INDEX = -100;

    private final LlamaConfig config;
    private final Tensor embedding; // [vocab, hidden]
    private final List<DecoderLayer> layers;
    private final RmsNorm norm;
    private final LinearLayer lmHead; // [vocab, hidden]; shares the embedding tensor when tied
    private final RotaryEmbedding rope;
    private final Device device;
    private final ScalarType dtype;
    private final Map<String, Projection> projections;

    LlamaModel(LlamaConfig config, Tensor embedding, List<DecoderLayer> layers, RmsNorm norm, LinearLayer lmHead, Device device, ScalarType dtype) {
        this.config = config;
        this.embedding = embedding.detach().retainReference();
        this.layers = List.copyOf(layers);
        this.norm = norm;
        this.lmHead = lmHead;
        this.rope = new RotaryEmbedding(config);
        this.device = device;
        this.dtype = dtype;
        Map<String, Projection> p = new LinkedHashMap<>();
        for (DecoderLayer l : layers) for (Projection pr : l.projections().values()) p.put(pr.path(), pr);
        this.projections = Collections.unmodifiableMap(p);
    }

    public LlamaConfig config() {
        return config;
    }

    public Device device() {
        return device;
    }

    /** The compute (activation) dtype. */
    public ScalarType dtype() {
        return dtype;
    }

    public int numLayers() {
        return layers.size();
    }

    public DecoderLayer layer(int i) {
        return layers.get(i);
    }

    public List<DecoderLayer> layers() {
        return layers;
    }

    public Tensor embeddingWeight() {
        return embedding;
    }

    public RmsNorm finalNorm() {
        return norm;
    }

    public LinearLayer lmHead() {
        return lmHead;
    }

    /** Every linear projection of every layer by Hugging Face module path ({@code model.layers.0.self_attn.q_proj}, ...). */
    public Map<String, Projection> projections() {
        return projections;
    }

    public Projection projection(String path) {
        Projection p = projections.get(path);
        if (p == null) throw new IllegalArgumentException("no projection '" + path + "' (e.g. " + DecoderLayer.pathPrefix(0) + DecoderLayer.PROJECTIONS.get(0) + ")");
        return p;
    }

    /** Every projection's frozen base layer by module path (what {@code PeftAdapterIO.read} attaches adapters to). */
    public Map<String, LinearLayer> baseLayers() {
        Map<String, LinearLayer> m = new LinkedHashMap<>();
        projections.forEach((path, p) -> m.put(path, p.base()));
        return m;
    }

    /** The attached adapters by module path. */
    public Map<String, AdapterLayer> adapters() {
        Map<String, AdapterLayer> m = new LinkedHashMap<>();
        projections.forEach((path, p) -> {
            if (p.adapter() != null) m.put(path, p.adapter());
        });
        return m;
    }

    /** Bytes of every frozen weight (4-bit layers count their packed size). */
    public long weightBytes() {
        long n = embedding.nbytes() + norm.weight().nbytes();
        if (!config.tieWordEmbeddings()) n += lmHead.weightBytes();
        for (DecoderLayer l : layers) {
            n += l.inputNorm().weight().nbytes() + l.postAttentionNorm().weight().nbytes();
            for (Projection p : l.projections().values()) n += p.base().weightBytes() + (p.base().bias() == null ? 0 : p.base().bias().nbytes());
        }
        return n;
    }

    /** {@code ids [B, T]} (int64) -> hidden states {@code [B, T, D]}; ids outside the vocabulary are an error. */
    public Tensor embed(Tensor ids) {
        if (ids.dim() != 2) throw new IllegalArgumentException("token ids must be [batch, length], got " + ids.dim() + "-D");
        if (ids.numel() > 0) {
            long[] range = Tensors.toLongs(torch.stack(new TensorVector(ids.min(), ids.max()))); // one read
            long lo = range[0], hi = range[1];
            if (lo < 0 || hi >= config.vocabSize())
                throw new IllegalArgumentException("token id " + (lo < 0 ? lo : hi) + " is outside the vocabulary [0, " + config.vocabSize() + ")");
        }
        return torch.embedding(embedding, ids.to(device, ScalarType.Long));
    }

    /**
     * {@link #embed(Tensor)} of ids given as host arrays ({@code [B][T]}, rows of equal length): checked against the
     * vocabulary in Java, so no tensor is read (the training step's inputs take this path).
     */
    public Tensor embed(long[][] ids) {
        int b = ids.length, t = b == 0 ? 0 : ids[0].length;
        long[] flat = new long[b * t];
        for (int i = 0; i < b; i++) {
            if (ids[i].length != t) throw new IllegalArgumentException("token id rows must have equal lengths: row " + i + " has " + ids[i].length + ", row 0 " + t);
            for (long id : ids[i])
                if (id < 0 || id >= config.vocabSize())
                    throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + config.vocabSize() + ")");
            System.arraycopy(ids[i], 0, flat, i * t, t);
        }
        return torch.embedding(embedding, Tensors.ofLongs(flat, b, t).to(device, ScalarType.Long));
    }

    /** {@code hidden [..., D]} -> logits {@code [..., vocab]} in the compute dtype. */
    public Tensor finalNormAndHead(Tensor hidden) {
        return lmHead.forward(norm.forward(hidden));
    }

    /** Logits {@code [B, T, vocab]} of a causal pass over {@code ids [B, T]} (no padding, one sequence per row). */
    public Tensor forward(Tensor ids) {
        return forward(ids, causalContext((int) ids.size(0), (int) ids.size(1)));
    }

    public Tensor forward(Tensor ids, AttentionContext ctx) {
        return finalNormAndHead(hidden(ids, ctx));
    }

    /** The last decoder layer's output {@code [B, T, hidden]} for {@code ids [B, T]} (before the final norm). */
    public Tensor hidden(Tensor ids, AttentionContext ctx) {
        return LayerRunner.forward(this, embed(ids), (l, h) -> l.forward(h, ctx), LayerRunner.BeforeLayer.NONE);
    }

    /** Every row is one sequence starting at position 0. */
    public AttentionContext causalContext(int batch, int length) {
        Tensor pos = torch.arange(new Scalar(length), new TensorOptions(ScalarType.Long)).unsqueeze(0).expand(batch, length);
        Tensor[] cs = rope.cosSin(pos, dtype, device);
        boolean windowed = config.slidingWindow() > 0 && length > config.slidingWindow();
        if (!windowed) return new AttentionContext(cs[0], cs[1], null, true, batch, length);
        Tensor seq = torch.zeros(new long[] {batch, length}, new TensorOptions(ScalarType.Long).device(new DeviceOptional(device)));
        return new AttentionContext(cs[0], cs[1], packedMask(seq, pos.to(device, ScalarType.Long)), false, batch, length);
    }

    /**
     * Rows holding several packed samples and/or padding. {@code sequenceIds [B, T]}: tokens with equal ids
     * in a row belong to one sample; a negative id marks padding. {@code positionIds [B, T]} restart at 0 for
     * each sample. A token attends only to earlier tokens of its own sample (padding only to itself).
     */
    public AttentionContext packedContext(Tensor positionIds, Tensor sequenceIds) {
        if (positionIds.dim() != 2 || sequenceIds.dim() != 2 || positionIds.size(0) != sequenceIds.size(0)
                || positionIds.size(1) != sequenceIds.size(1))
            throw new IllegalArgumentException("position ids " + Arrays.toString(Tensors.shape(positionIds)) + " and sequence ids "
                    + Arrays.toString(Tensors.shape(sequenceIds)) + " must both be [batch, length]");
        int b = (int) positionIds.size(0), t = (int) positionIds.size(1);
        Tensor[] cs = rope.cosSin(positionIds, dtype, device);
        return new AttentionContext(cs[0], cs[1], packedMask(sequenceIds.to(device, ScalarType.Long), positionIds.to(device, ScalarType.Long)),
                false, b, t);
    }

    // [B, 1, T, T] bool: same sample, not in the future, not padding (padding attends only to itself), within the window.
    private Tensor packedMask(Tensor seq, Tensor pos) {
        long t = seq.size(1);
        TensorOptions bool = new TensorOptions(ScalarType.Bool).device(new DeviceOptional(device));
        Tensor causal = torch.ones(new long[] {t, t}, bool).tril();
        Tensor allowed = seq.unsqueeze(2).eq(seq.unsqueeze(1)).logical_and(causal).logical_and(seq.ge(new Scalar(0L)).unsqueeze(1));
        if (config.slidingWindow() > 0)
            allowed = allowed.logical_and(pos.unsqueeze(2).sub(pos.unsqueeze(1)).lt(new Scalar((long) config.slidingWindow())));
        allowed = allowed.logical_or(torch.eye(t, bool));
        return allowed.unsqueeze(1);
    }

    /**
     * Context for {@code newTokens} tokens following {@code past} cached ones (generation). Rows are unpadded
     * and share one length.
     */
    public AttentionContext decodeContext(int batch, int past, int newTokens) {
        Tensor pos = torch.arange(new Scalar((long) past), new Scalar((long) past + newTokens), new TensorOptions(ScalarType.Long))
                .unsqueeze(0).expand(batch, newTokens);
        Tensor[] cs = rope.cosSin(pos, dtype, device);
        boolean windowed = config.slidingWindow() > 0 && past + newTokens > config.slidingWindow();
        if (past == 0 && !windowed) return new AttentionContext(cs[0], cs[1], null, newTokens > 1, batch, newTokens);
        if (newTokens == 1 && !windowed) return new AttentionContext(cs[0], cs[1], null, false, batch, 1);
        // query i sits at position past + i and sees key j when j <= past + i (and within the window)
        TensorOptions lng = new TensorOptions(ScalarType.Long).device(new DeviceOptional(device));
        Tensor qpos = torch.arange(new Scalar((long) past), new Scalar((long) past + newTokens), lng).unsqueeze(1);
        Tensor kpos = torch.arange(new Scalar((long) past + newTokens), lng).unsqueeze(0);
        Tensor diff = qpos.sub(kpos);
        Tensor allowed = diff.ge(new Scalar(0L));
        if (config.slidingWindow() > 0) allowed = allowed.logical_and(diff.lt(new Scalar((long) config.slidingWindow())));
        return new AttentionContext(cs[0], cs[1], allowed.view(1, 1, newTokens, past + newTokens).expand(batch, 1, newTokens, past + newTokens),
                false, batch, newTokens);
    }

    /** Runs {@code ids [B, T]} through the model appending to {@code cache}; returns logits {@code [B, T, vocab]}. */
    public Tensor forward(Tensor ids, KvCache cache) {
        int b = (int) ids.size(0), t = (int) ids.size(1);
        AttentionContext ctx = decodeContext(b, cache.length(), t);
        Tensor h = LayerRunner.forward(this, embed(ids), (l, x) -> l.forward(x, ctx, cache), LayerRunner.BeforeLayer.NONE);
        cache.advance(t);
        return finalNormAndHead(h);
    }

    @Override
    public void close() {
        for (DecoderLayer l : layers) l.close();
        norm.close();
        DecoderLayer.release(lmHead); // when tied, the head holds its own reference to the shared storage
        embedding.releaseReference();
    }
}
