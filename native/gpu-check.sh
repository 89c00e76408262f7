#!/usr/bin/env bash
# native/gpu-check.sh [--peak-gbs N] — the GPU check of the native kernels, on a CUDA machine that has no
# Java (see ../shared/device/README.md). Run from the repository root there; it takes well under a minute:
#   1. builds the CUDA kernels with the machine's nvcc (matching its driver), falling back to the jar's build;
#   2. runs org.qoft4j.nativekernels.GpuCheck through the GPU bundle's launcher, which prints
#      stack (libtorch loads, bf16 matmul + backward on the GPU), agree (CUDA kernels vs the CPU reference,
#      bit for bit; GEMV vs fp32 matmul) and speed (dequantization GB/s and % of peak, 4-bit linear vs
#      bf16 matmul at 4096x4096 with 4096 tokens, GEMV), exit status 0 when everything agrees.
#
# Prepare the bundle on the build machine, from the repository root (keep .gpu-bundle out of git):
#   scripts/make-gpu-bundle.sh
# It packs the project's jars and runtime dependencies and the modules' test jars: GpuCheck and the classes it uses
# (FusedGemv, the Java side of the experimental fused GEMV; RandomWeights) are in qoft4j-native's test jar.
# then on the GPU machine (with .gpu-bundle beside the sources):  bash native/gpu-check.sh
# Without a bundle, on a machine with Java, the same program runs as
#   mvn -q -B -DskipTests -pl native -am package dependency:build-classpath -Dmdep.outputFile=$PWD/cp.txt
#   java -cp "native/target/test-classes:native/target/classes:$(cat cp.txt)" org.qoft4j.nativekernels.GpuCheck [--device cpu]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bundle=${QOFT4J_BUNDLE:-$root/.gpu-bundle}
if [[ ! -f $bundle/run-on-device.sh ]]; then
  echo "gpu-check: no GPU bundle at $bundle (see the header of $0 for how to make one)" >&2
  exit 2
fi
opts=${JAVA_OPTS:-}
nvcc_bin=${NVCC:-$(command -v nvcc || true)}
[[ -z $nvcc_bin && -x /usr/local/cuda/bin/nvcc ]] && nvcc_bin=/usr/local/cuda/bin/nvcc
if [[ -n $nvcc_bin ]]; then
  out=${TMPDIR:-/tmp}/qoft4j-cuda
  if NVCC=$nvcc_bin QOFT4J_CUDA_REBUILD=1 bash "$root/native/build-cuda.sh" "$out"; then
    opts="$opts -Dqoft4j.cuda.library=$out/libqoft4j_cuda.so"
  else
    echo "gpu-check: building with $nvcc_bin failed; using libqoft4j_cuda.so from the jar"
  fi
else
  echo "gpu-check: no nvcc here; using libqoft4j_cuda.so from the jar (built with CUDA 13 for sm_90)"
fi
args=("$@")
if [[ " ${args[*]-} " != *" --peak-gbs "* ]] && command -v nvidia-smi >/dev/null; then
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
  echo "gpu-check: $gpu, driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)"
  case $gpu in
    *H200*) args+=(--peak-gbs 4800) ;;
    *H100*PCIe*) args+=(--peak-gbs 2000) ;;
    *H100*) args+=(--peak-gbs 3350) ;;
  esac
fi
JAVA_OPTS="$opts" exec bash "$bundle/run-on-device.sh" --check org.qoft4j.nativekernels.GpuCheck ${args[@]+"${args[@]}"}
