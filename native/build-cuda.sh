#!/usr/bin/env bash
# build-cuda.sh OUT_DIR — compiles the CUDA kernels (src/main/cuda) into OUT_DIR/libqoft4j_cuda.so with
# the nvcc on PATH (or $NVCC). Without nvcc it logs one line and succeeds: the CUDA kernels are optional.
# Targets sm_90 (H100/H200) plus compute_90 PTX for newer cards; QOFT4J_CUDA_ARCHS overrides, e.g.
#   QOFT4J_CUDA_ARCHS="-gencode arch=compute_80,code=sm_80" native/build-cuda.sh /tmp/out
# cudart is linked statically, so the library needs only the driver (libcuda.so.1) at run time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-cuda.sh OUT_DIR}
nvcc=${NVCC:-$(command -v nvcc || true)}
if [[ -z $nvcc ]]; then
  echo "[qoft4j-native] nvcc not on PATH: skipping the CUDA kernels (libqoft4j_cuda.so); the CPU kernels are unaffected"
  exit 0
fi
lib=$out/libqoft4j_cuda.so
src=("$here"/src/main/cuda/*.cu "$here"/src/main/cpp/qoft4j/convert.h "$here"/src/main/cpp/qoft4j/qoft4j_cuda_abi.h "$here/build-cuda.sh")
if [[ -f $lib && -z ${QOFT4J_CUDA_REBUILD:-} ]]; then
  newer=$(find "${src[@]}" -newer "$lib" | head -1)
  [[ -z $newer ]] && { echo "[qoft4j-native] $lib is up to date"; exit 0; }
fi
mkdir -p "$out"
archs=${QOFT4J_CUDA_ARCHS:-"-gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90"}
echo "[qoft4j-native] $("$nvcc" --version | tail -1): building $lib"
# -fmad=false: no FMA contraction, so dequantization stays bit-exact with the CPU reference.
# shellcheck disable=SC2086
"$nvcc" -O3 -std=c++17 -shared -Xcompiler -fPIC -fmad=false -cudart static $archs \
  -I"$here/src/main/cpp/qoft4j" -Xlinker --exclude-libs,ALL \
  "$here"/src/main/cuda/qoft4j_cuda.cu -o "$lib.tmp"
mv -f "$lib.tmp" "$lib"
