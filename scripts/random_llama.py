#!/usr/bin/env python3
"""Writes a random-weight Llama as a Hugging Face directory, and random token ids as pre-tokenized JSONL.

Used by scripts/gpu-check.sh: qoft4j (Java) and the PEFT reference then train the same shape on the same kind of
tokens. Weights are initialized on the GPU when there is one (seconds for ~1B parameters; on the CPU it takes
minutes) and saved in bf16 with transformers' own writer, so the directory is exactly what users download.

  python3 scripts/random_llama.py --out /tmp/llama-1b --data /tmp/random-tokens.jsonl [--hidden 2048 ...]
"""
import argparse, json, os, random, sys

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True, help="model directory to create")
    p.add_argument("--data", required=True, help="JSONL of {\"input_ids\": [...]} records to write")
    p.add_argument("--hidden", type=int, default=2048)
    p.add_argument("--intermediate", type=int, default=8192)
    p.add_argument("--layers", type=int, default=16)
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--kv-heads", type=int, default=8)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--seq", type=int, default=1024, help="tokens per record")
    p.add_argument("--records", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(a.seed)
    cfg = LlamaConfig(hidden_size=a.hidden, intermediate_size=a.intermediate, num_hidden_layers=a.layers,
                      num_attention_heads=a.heads, num_key_value_heads=a.kv_heads, vocab_size=a.vocab,
                      max_position_embeddings=max(2048, a.seq), tie_word_embeddings=False, torch_dtype="bfloat16")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    params = sum(t.numel() for t in model.parameters())
    model.save_pretrained(a.out, safe_serialization=True, max_shard_size="20GB")
    rng = random.Random(a.seed)
    tmp = a.data + ".tmp"
    with open(tmp, "w") as f:
        for _ in range(a.records):
            f.write(json.dumps({"input_ids": [rng.randrange(3, a.vocab) for _ in range(a.seq)]}) + "\n")
    os.replace(tmp, a.data)
    print(json.dumps({"model": a.out, "parameters": params, "data": a.data, "records": a.records, "seq": a.seq}))


if __name__ == "__main__":
    sys.exit(main())
