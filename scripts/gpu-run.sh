#!/usr/bin/env bash
# Runs on the GPU machine, in one call: the GPU correctness check (every Backend op vs the CPU backend),
# the GPU benchmark (GEMM / attention TFLOP/s, launch overhead), and the same shapes in PyTorch for the
# ratios. Expects the folder made by scripts/gpu-prepare.sh at .device (carried). Logs go to $OUT.
#   usage (device tool): run(command="bash .device/gpu-run.sh", carry=[".device"])
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${OUT:-/tmp/zimage-out}"; mkdir -p "$out"
tar xJf "$here/jdk.txz" -C /tmp
JAVA=/tmp/jdk/bin/java
CP="$here/lib/*"
FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw --format=csv,noheader || true
export CUDA_CACHE_PATH=/tmp/cuda-cache
status=0
echo "=== GPU correctness check (one process per group: a sticky CUDA fault loses only its group)"
: > "$out/check.log"
for g in ${ZIMAGE_CHECK_GROUPS:-gemm attention norms elementwise conv images graphs variants}; do
  $JAVA $FLAGS -Dzimage.cuda.syncEachLaunch=true -cp "$CP" dev.zimage4j.kernels.cuda.GpuCheck $g 2>&1 | tee -a "$out/check.log" || status=1
done
echo "=== GPU benchmark"
$JAVA $FLAGS -cp "$CP" dev.zimage4j.kernels.cuda.GpuBench ${ZIMAGE_BENCH_ARGS:-} 2>&1 | tee "$out/bench.log" || status=1
echo "=== PyTorch on the same shapes"
PYTHONUNBUFFERED=1 python3 "$here/gpu-bench-torch.py" "$out/bench.log" 2>&1 | tee "$out/ratios.log" || status=1
if [ -n "${ZIMAGE_DIT_CHECK:-}" ]; then
  echo "=== real-size DiT (random weights): GPU vs CPU at 256², GPU timings at 512² and 1024²"
  $JAVA $FLAGS -Xmx8g -cp "$CP" dev.zimage4j.dit.GpuDitCheck ${ZIMAGE_DIT_ARGS:-} 2>&1 | tee "$out/dit.log" || status=1
fi
if [ -n "${ZIMAGE_BENCH_REAL:-}" ]; then
  echo "=== full txt2img at the real sizes, random in-memory weights: process 1 (cold JIT cache), process 2 (warm)"
  for i in 1 2; do
    $JAVA $FLAGS -XX:MaxDirectMemorySize=100g -cp "$CP" dev.zimage4j.cli.Main bench-real --backend cuda --sizes 1024,512 --runs 5 \
      2>&1 | tee "$out/bench-real-$i.log" || status=1
  done
fi
if [ -n "${ZIMAGE_MODEL_CHECK:-}" ]; then
  echo "=== model-level check"
  $JAVA $FLAGS -Dzimage.root="$PWD" -cp "$CP" $ZIMAGE_MODEL_CHECK 2>&1 | tee "$out/model.log" || status=1
fi
exit $status
