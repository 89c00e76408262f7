#!/usr/bin/env python3
"""How far an OFT adapter's rotations are from orthogonal, for every number of Cayley-Neumann terms.

    python3 scripts/oft_orthogonality.py runs/finetune-demo/adapter

Reads adapter_config.json + adapter_model.safetensors (PEFT layout, float32 oft_R.weight), rebuilds each block's
skew-symmetric Q (row-major strict upper triangle) in float64 and prints the largest block ||Q||_2 and ||Q||_F and,
for N = 2..8, max |R^T R - I| over all blocks with PEFT >= 0.18's series (N = 3 is N = 4's polynomial), next to the
bound of docs/DESIGN.md ("Orthogonality guard"). Needs numpy only.
"""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is {info['dtype']}, expected F32")
        a, b = info["data_offsets"]
        yield name, np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"]).astype(np.float64)


def series(q, terms):
    eye = np.eye(len(q))
    if terms == 1:
        return eye
    if terms == 2:
        return eye + 2 * q
    m = max(3, terms - 1)
    return eye + 2 * sum(np.linalg.matrix_power(q, k) for k in range(1, m)) + np.linalg.matrix_power(q, m)


def bound(terms, s):
    if terms == 1:
        return 0.0
    if terms == 2:
        return 4 * s * s
    m = max(3, terms - 1)
    return s ** (2 * m) if m % 2 == 1 else 2 * s ** m + s ** (2 * m)


def main(adapter_dir):
    cfg = json.load(open(f"{adapter_dir}/adapter_config.json"))
    if cfg.get("peft_type") != "OFT":
        raise SystemExit(f"{adapter_dir}: peft_type {cfg.get('peft_type')}, expected OFT")
    worst_s = worst_f = 0.0
    errors = {n: 0.0 for n in range(2, 9)}
    for name, rows in read_safetensors(f"{adapter_dir}/adapter_model.safetensors"):
        b = int(round((1 + np.sqrt(1 + 8 * rows.shape[1])) / 2))
        iu = np.triu_indices(b, 1)
        for row in rows:
            q = np.zeros((b, b))
            q[iu] = row
            q = q - q.T
            worst_s = max(worst_s, np.linalg.norm(q, 2))
            worst_f = max(worst_f, np.linalg.norm(q))
            for n in errors:
                r = series(q, n)
                errors[n] = max(errors[n], np.abs(r.T @ r - np.eye(b)).max())
    print(f"adapter trained with N = {cfg.get('num_cayley_neumann_terms')} (use_cayley_neumann {cfg.get('use_cayley_neumann')}); "
          f"largest block ||Q||_2 = {worst_s:.4f}, ||Q||_F = {worst_f:.4f}")
    print("N  max|R^T R - I|  bound")
    for n, e in errors.items():
        print(f"{n}  {e:.4g}  {bound(n, worst_s):.4g}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
