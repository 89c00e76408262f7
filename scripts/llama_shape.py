"""The Llama shape shared by scripts/random_llama.py and scripts/peft_reference.py (default: the ~1.1B model of
scripts/gpu-check.sh: hidden 2048, 16 layers, 32/8 heads, MLP 8192, vocab 32000, untied head)."""


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
