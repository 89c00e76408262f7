"""The Llama shape shared by scripts/random_llama.py, scripts/peft_reference.py and scripts/gpu_table.py (default:
the ~1.1B model of scripts/gpu-check.sh: hidden 2048, 16 layers, 32/8 heads, MLP 8192, vocab 32000, untied head),
and MFU as qoft4j's Mfu.java counts it."""

# dense bf16 peak FLOP/s by GPU name (the first key whose words all occur in the name)
PEAKS = [("H100 PCIE", 756e12), ("H100", 989e12), ("H200", 989e12), ("H800", 989e12), ("A100", 312e12), ("L40S", 362e12)]


def peak_flops(gpu):
    g = (gpu or "").upper()
    for key, v in PEAKS:
        if all(k in g for k in key.split()):
            return v
    return float("nan")


def flops_per_token(hidden, intermediate, layers, heads, kv_heads, vocab, seq):
    """PaLM's convention: 6 N + 12 L d T, N = parameters of the linear layers and the head (embeddings do no
    matmul); recomputation is not counted as useful work."""
    hd = hidden // heads
    n = layers * (2 * hidden * hidden + 2 * hidden * kv_heads * hd + 3 * hidden * intermediate) + vocab * hidden
    return 6 * n + 12 * layers * hidden * seq


def add_shape_args(p):
    p.add_argument("--hidden", type=int, default=2048)
    p.add_argument("--intermediate", type=int, default=8192)
    p.add_argument("--layers", type=int, default=16)
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--kv-heads", type=int, default=8)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--seq", type=int, default=1024, help="tokens per row")


def llama_config(a):
    from transformers import LlamaConfig
    return LlamaConfig(hidden_size=a.hidden, intermediate_size=a.intermediate, num_hidden_layers=a.layers,
                       num_attention_heads=a.heads, num_key_value_heads=a.kv_heads, vocab_size=a.vocab,
                       max_position_embeddings=max(2048, a.seq), tie_word_embeddings=False)
