#!/usr/bin/env python3
"""One table from scripts/gpu-check.sh's runs: qoft4j finetune runs (metrics.jsonl) and the PEFT reference (JSON lines).

  python3 scripts/gpu_table.py --java "QOFT (qoft4j, nf4)=/tmp/run-oft" --java "QLoRA (qoft4j, nf4)=/tmp/run-lora" \
      --peft peft.jsonl [--shape hidden=2048,...] [--gpu NAME]

tokens/s is the median over the timed steps (the first --skip steps of each Java run are warm-up, as the PEFT
reference's own warm-up steps are). MFU is computed the same way for every row, PaLM's convention as in the Java
trainer (Mfu.java): (6 N + 12 L d T) * tokens/s / peak bf16 FLOP/s, N = parameters of the linear layers and the
head (embeddings do no matmul), T the sequence length. Peak memory: the CUDA caching allocator's peak allocated.
"""
import argparse, json, statistics, sys

from llama_shape import flops_per_token, peak_flops

def java_row(label, run_dir, skip):
    steps = []
    with open(f"{run_dir}/metrics.jsonl") as f:
        for line in f:
            o = json.loads(line)
            if o.get("kind") == "train":
                steps.append(o)
    if not steps:
        raise ValueError(f"{run_dir}/metrics.jsonl: no train steps")
    timed = steps[skip:] or steps
    peak = max((o.get("cuda_peak_bytes") or 0) for o in steps)
    return {"run": label, "tokens_per_s": statistics.median(o["tokens_per_s"] for o in timed),
            "peak_gib": peak / 2**30, "steps": len(timed), "loss": steps[-1]["loss"]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--java", action="append", default=[], metavar="LABEL=RUN_DIR")
    p.add_argument("--peft", help="JSON lines from scripts/peft_reference.py")
    p.add_argument("--shape", default="hidden=2048,intermediate=8192,layers=16,heads=32,kv_heads=8,vocab=32000,seq=1024")
    p.add_argument("--gpu", default="")
    p.add_argument("--skip", type=int, default=2, help="warm-up steps left out of each Java run's median")
    a = p.parse_args()
    shape = {k: int(v) for k, v in (kv.split("=") for kv in a.shape.split(","))}
    rows = []
    for spec in a.java:
        label, run_dir = spec.split("=", 1)
        try:
            rows.append(java_row(label, run_dir, a.skip))
        except (OSError, ValueError, KeyError) as e:
            rows.append({"run": label, "error": str(e)})
    if a.peft:
        try:
            with open(a.peft) as f:
                for line in f:
                    if not line.startswith("{"):
                        continue
                    o = json.loads(line)
                    label = f"PEFT {'LoRA' if o['adapter'] == 'lora' else 'OFT'} (bf16 base)"
                    if o.get("error"):
                        rows.append({"run": label, "error": o["error"]})
                    else:
                        rows.append({"run": label, "tokens_per_s": o["tokens_per_s"], "peak_gib": o["peak_gib"],
                                     "steps": o.get("steps"), "loss": o.get("loss")})
                        a.gpu = a.gpu or o.get("device", "")
        except OSError as e:
            rows.append({"run": "PEFT reference", "error": str(e)})
    fpt, peak = flops_per_token(**shape), peak_flops(a.gpu)
    print(f"GPU: {a.gpu or 'unknown'}; shape {a.shape}; MFU against {peak / 1e12:.0f} TFLOP/s dense bf16, "
          f"{fpt / 1e9:.2f} GFLOP per token")
    print("| run | tokens/s | peak GPU memory (GiB) | MFU | timed steps | last loss |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['run']} | failed: {r['error'][:120]} | | | | |")
            continue
        mfu = fpt * r["tokens_per_s"] / peak
        print(f"| {r['run']} | {r['tokens_per_s']:,.0f} | {r['peak_gib']:.2f} | {100 * mfu:.1f}% | {r['steps']} | {r['loss']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
