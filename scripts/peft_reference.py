#!/usr/bin/env python3
"""Python reference for qoft4j's GPU comparison: PEFT LoRA and OFT on a bf16 Llama of the same shape.

Runs on a GPU machine that has torch, transformers and peft (bitsandbytes is not needed: the base stays
bf16). Builds a random-weight Llama (default: hidden 2048, 16 layers, 32/8 heads, intermediate 8192,
vocab 32000, ~1.1B parameters), wraps every linear layer of attention and MLP with the adapter, and
trains on random token ids for a few steps. Prints one JSON object per run on stdout:
  {"impl": "peft", "adapter": "lora", "tokens_per_s": ..., "peak_gib": ..., "mfu": ..., ...}
MFU counts model FLOPs only (6 N + 12 L d T per token, N = linear layers and head), against the card's dense bf16 peak.
"""
import argparse, json, math, time, sys

import torch

from llama_shape import add_shape_args, flops_per_token, llama_config, peak_flops


def run(args, adapter):
    from transformers import LlamaForCausalLM
    from peft import LoraConfig, OFTConfig, get_peft_model

    torch.manual_seed(args.seed)
    cfg = llama_config(args)
    cfg._attn_implementation = "sdpa"
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    if adapter == "lora":
        pc = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=targets, task_type="CAUSAL_LM")
    else:
        pc = OFTConfig(r=0, oft_block_size=32, use_cayley_neumann=True, num_cayley_neumann_terms=5,
                       target_modules=targets, task_type="CAUSAL_LM")
    model = get_peft_model(model, pc)
    if args.grad_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    g = torch.Generator(device="cuda").manual_seed(args.seed)
    ids = torch.randint(0, args.vocab, (args.batch, args.seq), device="cuda", generator=g)
    model.train()
    torch.cuda.reset_peak_memory_stats()

    def step():
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return out.loss

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / args.steps
    tokens = args.batch * args.seq
    tps = tokens / dt
    name = torch.cuda.get_device_name()
    mfu = flops_per_token(args.hidden, args.intermediate, args.layers, args.heads, args.kv_heads, args.vocab, args.seq) * tps / peak_flops(name)
    res = {"impl": "peft", "adapter": adapter, "device": name, "torch": torch.__version__,
           "params": params, "trainable": trainable, "batch": args.batch, "seq": args.seq,
           "grad_checkpointing": args.grad_checkpointing, "steps": args.steps, "step_s": round(dt, 4),
           "tokens_per_s": round(tps, 1), "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3),
           "mfu": round(mfu, 4), "loss": round(float(loss), 4)}
    del model, opt
    torch.cuda.empty_cache()
    return res


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--adapters", default="lora,oft")
    add_shape_args(p)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grad-checkpointing", action="store_true")
    args = p.parse_args()
    import peft, transformers
    print(f"# peft {peft.__version__}, transformers {transformers.__version__}, torch {torch.__version__}", file=sys.stderr)
    for a in args.adapters.split(","):
        try:
            print(json.dumps(run(args, a)), flush=True)
        except Exception as e:  # report and go on with the next run
            print(json.dumps({"impl": "peft", "adapter": a, "error": repr(e)}), flush=True)


if __name__ == "__main__":
    main()
