package org.qoft4j.model;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.Tensors;

/**
 * A llama2.c checkpoint ({@code run.c}'s format, see {@code shared/models/README.md}) read as Hugging Face-named
 * tensors, one at a time. llama2.c's RoPE rotates interleaved pairs {@code (2i, 2i+1)} of each head, Hugging
 * Face's pairs {@code (i, i + d/2)}: q and k rows are permuted per head on the way out
 * (new row {@code c*(d/2) + j} = old row {@code 2j + c}) so the one {@link LlamaModel} computes the same thing.
 */
public final class Llama2cLoader implements TensorSource {
    private static final int HEADER_BYTES = 7 * 4;

    /** The seven int32 header fields; {@code sharedClassifier} is the sign of the stored vocab size. */
    public record Header(int dim, int hiddenDim, int numLayers, int numHeads, int numKvHeads, int vocabSize, boolean sharedClassifier, int seqLen) {
        public int headDim() {
            return dim / numHeads;
        }
    }

    private record Slice(long offset, long[] shape, int permuteHeads) {} // offset in bytes; permuteHeads > 0 for q/k

    private final Path file;
    private final Header header;
    private final LlamaConfig config;
    private final Map<String, Slice> slices;

    private Llama2cLoader(Path file, Header header, Map<String, Slice> slices) {
        this.file = file;
        this.header = header;
        this.slices = Collections.unmodifiableMap(slices);
        this.config = new LlamaConfig(ModelFamily.LLAMA, List.of("LlamaForCausalLM"), header.dim(), header.hiddenDim(), header.numLayers(),
                header.numHeads(), header.numKvHeads(), header.headDim(), header.vocabSize(), 1e-5, 10000.0, null, header.seqLen(),
                header.sharedClassifier(), false, false, false, false, 0, 1L, List.of(2L), "float32");
    }

    /** Reads and checks the header and the file size; tensors are read later, on demand. */
    public static Llama2cLoader open(Path file) {
        long size;
        int[] h = new int[7];
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            size = ch.size();
            if (size < HEADER_BYTES) throw new ModelFormatException(file + ": " + size + " bytes is too short for a llama2.c header (28 bytes)");
            ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, b, 0);
            b.flip();
            for (int i = 0; i < 7; i++) h[i] = b.getInt();
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read: " + e.getMessage(), e);
        }
        Header hd = new Header(h[0], h[1], h[2], h[3], h[4], Math.abs(h[5]), h[5] > 0, h[6]);
        String desc = "dim=" + h[0] + ", hidden_dim=" + h[1] + ", n_layers=" + h[2] + ", n_heads=" + h[3] + ", n_kv_heads=" + h[4]
                + ", vocab_size=" + h[5] + ", seq_len=" + h[6];
        if (hd.dim() <= 0 || hd.hiddenDim() <= 0 || hd.numLayers() <= 0 || hd.numHeads() <= 0 || hd.numKvHeads() <= 0 || hd.vocabSize() <= 0
                || hd.seqLen() <= 0 || h[5] == Integer.MIN_VALUE)
            throw new ModelFormatException(file + ": not a llama2.c checkpoint (header " + desc + " has a non-positive size)");
        if (hd.dim() % hd.numHeads() != 0 || hd.numHeads() % hd.numKvHeads() != 0 || hd.headDim() % 2 != 0)
            throw new ModelFormatException(file + ": inconsistent llama2.c header (" + desc + "): dim must split into even-sized heads and n_heads into n_kv_heads groups");

        Map<String, Slice> s = new LinkedHashMap<>();
        long dim = hd.dim(), hid = hd.hiddenDim(), kvDim = (long) hd.numKvHeads() * hd.headDim();
        long[] at = {HEADER_BYTES};
        put(s, at, "model.embed_tokens.weight", new long[] {hd.vocabSize(), dim}, 0);
        perLayer(s, at, hd, "input_layernorm.weight", new long[] {dim}, 0);
        perLayer(s, at, hd, "self_attn.q_proj.weight", new long[] {dim, dim}, hd.numHeads());
        perLayer(s, at, hd, "self_attn.k_proj.weight", new long[] {kvDim, dim}, hd.numKvHeads());
        perLayer(s, at, hd, "self_attn.v_proj.weight", new long[] {kvDim, dim}, 0);
        perLayer(s, at, hd, "self_attn.o_proj.weight", new long[] {dim, dim}, 0);
        perLayer(s, at, hd, "post_attention_layernorm.weight", new long[] {dim}, 0);
        perLayer(s, at, hd, "mlp.gate_proj.weight", new long[] {hid, dim}, 0); // w1
        perLayer(s, at, hd, "mlp.down_proj.weight", new long[] {dim, hid}, 0); // w2
        perLayer(s, at, hd, "mlp.up_proj.weight", new long[] {hid, dim}, 0);   // w3
        put(s, at, "model.norm.weight", new long[] {dim}, 0);
        at[0] += 4L * hd.seqLen() * hd.headDim(); // freq_cis_real and freq_cis_imag, unused
        if (!hd.sharedClassifier()) put(s, at, "lm_head.weight", new long[] {hd.vocabSize(), dim}, 0);
        if (at[0] != size)
            throw new ModelFormatException(file + ": size " + size + " bytes does not match its llama2.c header (" + desc + "), which needs " + at[0]
                    + " bytes");
        return new Llama2cLoader(file, hd, s);
    }

    private static void perLayer(Map<String, Slice> s, long[] at, Header h, String name, long[] shape, int permuteHeads) {
        for (int i = 0; i < h.numLayers(); i++) put(s, at, DecoderLayer.pathPrefix(i) + name, shape, permuteHeads);
    }

    private static void put(Map<String, Slice> s, long[] at, String name, long[] shape, int permuteHeads) {
        s.put(name, new Slice(at[0], shape, permuteHeads));
        long n = 1;
        for (long d : shape) n *= d;
        at[0] += 4 * n;
    }

    public Header header() {
        return header;
    }

    /** The Hugging Face config equivalent to the header (llama, eps 1e-5, theta 10000, BOS 1, EOS 2). */
    public LlamaConfig config() {
        return config;
    }

    /** The model, built like any other source (quantized on load when {@code o.quant()} is set). */
    public LlamaModel load(LoadOptions o) {
        return ModelLoader.build(config, this, o);
    }

    /** Writes the equivalent Hugging Face directory (config.json, model.safetensors in float32), atomically. */
    public void convertToHf(Path outDir) {
        HfModelWriter.write(config, this, outDir, null, 0);
    }

    /** Loads {@code file} as a model. */
    public static LlamaModel load(Path file, LoadOptions o) {
        return open(file).load(o);
    }

    @Override
    public String describe() {
        return file.toString();
    }

    @Override
    public Set<String> names() {
        return slices.keySet();
    }

    @Override
    public long[] shape(String name) {
        return slice(name).shape().clone();
    }

    @Override
    public ScalarType dtype(String name) {
        slice(name);
        return ScalarType.Float;
    }

    @Override
    public Tensor load(String name) {
        Slice s = slice(name);
        long n = 1;
        for (long d : s.shape()) n *= d;
        if (n > Integer.MAX_VALUE / 4) throw new ModelFormatException(file + ": tensor " + name + " is too large to read in one piece");
        ByteBuffer b = ByteBuffer.allocate((int) (4 * n)).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            readFully(ch, b, s.offset());
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read tensor " + name + ": " + e.getMessage(), e);
        }
        b.flip();
        float[] v = new float[(int) n];
        b.asFloatBuffer().get(v);
        Tensor t = Tensors.of(v, s.shape());
        return s.permuteHeads() > 0 ? interleavedToHalfRotary(t, s.permuteHeads()) : t;
    }

    private Slice slice(String name) {
        Slice s = slices.get(name);
        if (s == null) throw new ModelFormatException(file + ": a llama2.c checkpoint has no tensor '" + name + "'");
        return s;
    }

    /**
     * Reorders the rows of a q or k weight {@code [heads * hd, in]} from llama2.c's interleaved RoPE pairing to
     * Hugging Face's rotate-half pairing: within each head, new row {@code c * hd/2 + j} = old row {@code 2j + c}.
     */
    public static Tensor interleavedToHalfRotary(Tensor w, int heads) {
        long rows = w.size(0), in = w.size(1), hd = rows / heads;
        return w.reshape(heads, hd / 2, 2, in).transpose(1, 2).reshape(rows, in).contiguous();
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        long pos = position;
        while (b.hasRemaining()) {
            int r = ch.read(b, pos);
            if (r < 0) throw new IOException("unexpected end of file at byte " + pos);
            pos += r;
        }
    }
}
