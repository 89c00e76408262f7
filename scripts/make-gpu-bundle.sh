#!/usr/bin/env bash
# scripts/make-gpu-bundle.sh — packs .gpu-bundle/ for scripts/gpu-check.sh on a GPU machine that has no Java and no
# network but has Python's CUDA torch (see ../shared/device/README.md, whose make-gpu-bundle.sh does the packing):
# the project's jars and their runtime dependencies, the test jars and JUnit's console launcher (for the
# @Tag("gpu") tests). Run from the repository root; keep .gpu-bundle out of git (it holds binaries).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
packer=${GPU_BUNDLE_PACKER:-$root/../shared/device/make-gpu-bundle.sh}
[[ -x $packer ]] || { echo "make-gpu-bundle: $packer not found (set GPU_BUNDLE_PACKER)" >&2; exit 2; }
jars=$root/target/bundle-jars
# trim_jar JAR DROP_REGEX [gpu-copy]: rewrites JAR without the entries whose names match DROP_REGEX; with gpu-copy,
# each kept .so is also stored under linux-x86_64-gpu/, where the launcher's platform.extension=-gpu looks first.
trim_jar() {
  python3 - "$@" <<'PY'
import os, re, sys, zipfile
src, drop, gpu_copy = sys.argv[1], re.compile(sys.argv[2]), len(sys.argv) > 3
tmp = src + ".tmp"
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
    for e in zin.infolist():
        if drop.search(e.filename):
            continue
        data = zin.read(e.filename)
        zout.writestr(e, data)
        if gpu_copy and e.filename.endswith(".so"):
            zout.writestr(e.filename.replace("/linux-x86_64/", "/linux-x86_64-gpu/"), data)
os.replace(tmp, src)
PY
}
rm -rf "$jars" && mkdir -p "$jars"
# one reactor run, so the modules' own jars come from this build, not from ~/.m2
mvn -q -B -DskipTests package jar:test-jar dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$jars"
mvn -q -B dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1 -DoutputDirectory="$jars"
# The presets' CUDA classes (no natives: the machine's Python torch ships the CUDA libraries): torch_cuda's
# loader reads their annotations (org.bytedeco.cuda.presets.cudnn), so without them every CUDA call fails.
cuda_version=$(sed -n 's:.*<cuda.version>\(.*\)</cuda.version>.*:\1:p' pom.xml)
mvn -q -B dependency:copy -Dartifact="org.bytedeco:cuda:$cuda_version" -DoutputDirectory="$jars"
# and their JNI glue for what torch_cuda inherits (cudart, cublas, cudnn, cusparse, cusolver, cupti), trimmed
# from the presets' linux-x86_64 jar; the CUDA libraries themselves come from Python torch's nvidia packages.
mvn -q -B dependency:copy -Dartifact="org.bytedeco:cuda:$cuda_version:jar:linux-x86_64" -DoutputDirectory="$jars"
trim_jar "$jars/cuda-$cuda_version-linux-x86_64.jar" '^(?!.*libjni(cudart|cublas|cudnn|cusparse|cusolver|cupti)\.so$).*\.so$' gpu-copy
cp ./*/target/qoft4j-*.jar "$jars/"
# What travels to the GPU machine is limited to 64 MiB with the sources: drop the benchmark harness (with bench's
# experiments: the GPU check needs none of them; GpuCheck and FusedGemv, the GEMV's binding, are in native's test jar), XChart's
# vector-format exporters (loss curves are PNG) and DJL's tokenizers with their dependencies (the GPU check trains
# on pre-tokenized data; QOFT4J_BUNDLE_TOKENIZERS=keep keeps them, with the linux-x86_64 natives only).
rm -f "$jars"/qoft4j-bench-*.jar "$jars"/jmh-core-*.jar "$jars"/jopt-simple-*.jar "$jars"/qoft4j-examples-*-tests.jar \
      "$jars"/pdfbox-*.jar "$jars"/pdfbox-io-*.jar "$jars"/fontbox-*.jar "$jars"/graphics2d-*.jar "$jars"/VectorGraphics2D-*.jar
if [[ ${QOFT4J_BUNDLE_TOKENIZERS:-drop} != keep ]]; then
  rm -f "$jars"/tokenizers-*.jar "$jars"/api-0.*.jar "$jars"/commons-compress-*.jar  # (JNA stays: ResidentMemory uses it)
fi
for j in "$jars"/tokenizers-*.jar; do
  if [[ -f $j ]]; then trim_jar "$j" '^native/lib/(?!linux-x86_64/).*[^/]$'; fi
done
"$packer" "$jars" .gpu-bundle
