#!/usr/bin/env bash
# scripts/gpu-check.sh — the whole GPU check, on a CUDA machine (with or without Java; see ../shared/device/README.md).
# Run from the repository root there, with the GPU bundle beside the sources (scripts/make-gpu-bundle.sh makes it):
#   bash scripts/gpu-check.sh 2>&1 | tee gpu-check.log
# Every step has its own time limit and the script goes on when one fails, so one run always ends with the table:
#   1. smoke + CUDA kernels: native/gpu-check.sh (libtorch loads, bf16 matmul + backward on the GPU; the project's
#      CUDA kernels, rebuilt with the machine's nvcc, agree bit for bit with the CPU reference; their speed);
#   2. a random-weight Llama of ~1.1B parameters (hidden 2048, 16 layers, 32/8 heads, intermediate 8192,
#      vocab 32000) saved in bf16 by transformers, plus random token ids (scripts/random_llama.py);
#   3. `qoft4j finetune` with QOFT and with QLoRA on it: nf4 quantized on load straight to the GPU, bf16, seq 1024;
#   4. PEFT's LoRA and OFT on a bf16 base of the same shape and tokens (scripts/peft_reference.py);
#   5. one table: tokens/s, peak GPU memory, MFU (scripts/gpu_table.py);
#   6. the GPU-tagged JUnit tests (@Tag("gpu"), skipped by CPU CI), through JUnit's console launcher;
#   7. `qoft4j compare` and `qoft4j bench` on the same model, when STEPS_EXTRA is not "no".
# Outputs go to $OUT (or target/gpu-check): the table, every run's metrics.jsonl, PEFT's JSON lines, logs.
# Knobs (environment): STEPS (default 10), BATCH (4), SEQ (1024), WORK (scratch dir, default /tmp/qoft4j-gpu),
# BUDGET (seconds for the whole script; later steps get what is left, or are skipped), SKIP (step names, e.g.
# SKIP="smoke+kernels peft"), PROFILE=yes (also QOFT without recomputation: what the recompute pass costs).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-$root/target/gpu-check}
work=${WORK:-/tmp/qoft4j-gpu}
steps=${STEPS:-10} batch=${BATCH:-4} seq=${SEQ:-1024}
mkdir -p "$out" "$work"
bundle=${QOFT4J_BUNDLE:-$root/.gpu-bundle}
if [[ ! -f $bundle/run-on-device.sh ]]; then
  echo "gpu-check: no GPU bundle at $bundle; make one with scripts/make-gpu-bundle.sh (on a machine with Java and the" \
       "gpu profile, run the GPU tests with: mvn -B -Pgpu verify -Dtest.excludedGroups= -Dgroups=gpu)" >&2
  exit 2
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
cuda_lib=${TMPDIR:-/tmp}/qoft4j-cuda/libqoft4j_cuda.so
opts="-Xss8m -Dqoft4j.home=$root -Dorg.slf4j.simpleLogger.defaultLogLevel=info"
summary=()
budget=${BUDGET:-0}  # seconds for the whole script (0: no limit); each step's limit shrinks to fit what is left
step() {  # step NAME LIMIT_S COMMAND...   (progress lines on stderr, so a step's stdout can go to a file)
  local name=$1 limit=$2; shift 2
  if [[ " ${SKIP:-} " == *" $name "* ]]; then summary+=("$(printf '%-16s skipped (SKIP)' "$name")"); return 98; fi
  if ((budget > 0)); then
    local left=$((budget - SECONDS - 15))
    ((left < 20)) && { summary+=("$(printf '%-16s skipped: out of time' "$name")"); echo "=== $name: skipped (out of time)" >&2; return 99; }
    ((limit > left)) && limit=$left
  fi
  echo -e "\n=== $name (limit ${limit}s) $(date -u +%H:%M:%S)" >&2
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@"
  local rc=$?
  summary+=("$(printf '%-16s rc=%-3s %4ds' "$name" "$rc" $((SECONDS - t0)))")
  echo "=== $name: rc=$rc after $((SECONDS - t0)) s" >&2
  return $rc
}
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
echo "gpu-check: ${gpu:-no nvidia-smi}; $(nvidia-smi --query-gpu=driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
echo "gpu-check: python $(python3 -c 'import torch, sys; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1)"

step smoke+kernels 150 bash native/gpu-check.sh
[[ -f $cuda_lib ]] && cuda_opt="-Dqoft4j.cuda.library=$cuda_lib"

launch=(env "JAVA_OPTS=$opts ${cuda_opt:-}" bash "$bundle/run-on-device.sh")
qoft4j=("${launch[@]}" org.qoft4j.cli.Qoft4jCommand)
model=$work/llama-1b data=$work/random-tokens.jsonl
[[ -f $model/config.json && -f $data ]] || step random-model 180 python3 scripts/random_llama.py --out "$model" --data "$data" --seq "$seq"

common=(--model "$model" --data "$data" --device cuda --dtype bf16 --quant nf4 --steps "$steps" --batch-size "$batch"
        --seq-len "$seq" --warmup 2 --lr 1e-4 --save-every 0 --eval-every 0 eval-fraction=0)
for a in oft lora; do
  rm -rf "$work/run-$a"
  step "finetune-$a" 240 "${qoft4j[@]}" finetune "${common[@]}" --adapter "$a" --out "$work/run-$a"
  mkdir -p "$out/run-$a" && cp -f "$work/run-$a"/{metrics.jsonl,loss.png,config.yaml} "$out/run-$a/" 2>/dev/null
done

if [[ ${PROFILE:-} == yes ]]; then
  rm -rf "$work/run-oft-norecompute"
  step finetune-oft-norecompute 240 "${qoft4j[@]}" finetune "${common[@]}" --adapter oft --no-recompute --out "$work/run-oft-norecompute"
  mkdir -p "$out/run-oft-norecompute" && cp -f "$work/run-oft-norecompute"/metrics.jsonl "$out/run-oft-norecompute/" 2>/dev/null
fi

step peft 240 python3 scripts/peft_reference.py --steps "$steps" --warmup 2 --batch "$batch" --seq "$seq" > "$out/peft.jsonl"
cat "$out/peft.jsonl"

profile_row=()
[[ ${PROFILE:-} == yes ]] && profile_row=(--java "QOFT without recompute (qoft4j, nf4)=$work/run-oft-norecompute")
echo; echo "=== table"
python3 scripts/gpu_table.py --gpu "$gpu" --shape "hidden=2048,intermediate=8192,layers=16,heads=32,kv_heads=8,vocab=32000,seq=$seq" \
  --java "QOFT (qoft4j, nf4)=$work/run-oft" --java "QLoRA (qoft4j, nf4)=$work/run-lora" \
  "${profile_row[@]}" --peft "$out/peft.jsonl" | tee "$out/gpu-table.md"

# The GPU test classes, found in the sources (the bundle's test jars hold them; other test classes need test-only jars).
gpu_tests=()
for c in $(grep -rl '@Tag("gpu")' --include='*.java' ./*/src/test/java | sed 's#.*/src/test/java/##; s#\.java$##; s#/#.#g'); do
  gpu_tests+=(--select-class "$c")
done
step gpu-tests 150 "${launch[@]}" org.junit.platform.console.ConsoleLauncher execute "${gpu_tests[@]}" \
  --include-tag gpu --disable-banner --details tree --reports-dir "$out/junit"


if [[ ${STEPS_EXTRA:-yes} != no ]]; then
  step compare 300 "${qoft4j[@]}" compare --model "$model" --data "$data" --device cuda --dtype bf16 --steps "$steps" \
      --batch-size "$batch" --seq-len "$seq" --out "$out/compare"
  step bench 240 "${qoft4j[@]}" bench --device cuda --model "$model" --seq-len "$seq" --batch-size "$batch" --steps 6 --out "$out/bench.json"
fi

echo; echo "=== steps"; printf '%s\n' "${summary[@]}"
