#!/usr/bin/env python3
"""Writes a random-weight Llama as a Hugging Face directory, and random token ids as pre-tokenized JSONL.

Used by scripts/gpu-check.sh: qoft4j (Java) and the PEFT reference then train the same shape on the same kind of
tokens. Weights are initialized on the GPU when there is one (seconds for ~1B parameters; on the CPU it takes
minutes) and saved in bf16 with transformers' own writer, so the directory is exactly what users download.

  python3 scripts/random_llama.py --out /tmp/llama-1b --data /tmp/random-tokens.jsonl [--hidden 2048 ...]
"""
import argparse, json, os, random, sys

import torch

from llama_shape import add_shape_args, llama_config


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True, help="model directory to create")
    p.add_argument("--data", required=True, help="JSONL of {\"input_ids\": [...]} records to write")
    add_shape_args(p)
    p.add_argument("--records", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    from transformers import LlamaForCausalLM

    torch.manual_seed(a.seed)
    cfg = llama_config(a)
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
