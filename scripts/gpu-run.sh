#!/usr/bin/env bash
# Runs on the GPU machine, in one call: the GPU correctness check (every Backend op vs the CPU backend, one
# process per group so a sticky CUDA fault loses only its group), the GPU benchmark (GEMM / attention TFLOP/s,
# tile sweeps, launch overhead) and the same shapes in PyTorch for the ratios; optionally the real-size DiT
# check, bench-real and a model-level check. Every step runs under a timeout, so a hung kernel costs one step.
# Expects the folder made by scripts/gpu-prepare.sh (carried). Logs go to $OUT.
#   usage (device tool): run(command="bash .device/gpu-run.sh", carry=[".device"])
#   env: ZIMAGE_CHECK_GROUPS (default: every group), ZIMAGE_CHECK_CLUSTER=1 (re-run gemm + graphs with the
#        2-CTA cluster GEMMs as the Hopper default), ZIMAGE_NO_BENCH=1, ZIMAGE_BENCH_ARGS (e.g. --no-sweep,
#        attention), ZIMAGE_DIT_CHECK=1, ZIMAGE_BENCH_REAL=1, ZIMAGE_MODEL_CHECK="dev.zimage4j.cli.Main …"
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw --format=csv,noheader || true
check() { # group, extra JVM flags
  timeout "${ZIMAGE_CHECK_TIMEOUT:-120}" $JAVA $FLAGS -Dzimage.cuda.syncEachLaunch=true $2 -cp "$CP" \
    dev.zimage4j.kernels.cuda.GpuCheck "$1" 2>&1 | tee -a "$out/check.log" || status=1
}
echo "=== GPU correctness check"
: > "$out/check.log"
for g in ${ZIMAGE_CHECK_GROUPS:-gemm attention norms elementwise conv images graphs variants}; do check "$g" ""; done
if [ -n "${ZIMAGE_CHECK_CLUSTER:-}" ]; then
  for g in ${ZIMAGE_CHECK_CLUSTER_GROUPS:-gemm graphs}; do echo "--- group $g, cluster GEMMs"; check "$g" -Dzimage.cuda.gemmCluster=true; done
fi
echo "check: $(grep -c ' ok ' "$out/check.log") ok, $(grep -c ' FAIL ' "$out/check.log") FAIL"
if [ -z "${ZIMAGE_NO_BENCH:-}" ]; then
  echo "=== GPU benchmark"
  timeout "${ZIMAGE_BENCH_TIMEOUT:-240}" $JAVA $FLAGS -cp "$CP" dev.zimage4j.kernels.cuda.GpuBench ${ZIMAGE_BENCH_ARGS:-} 2>&1 | tee "$out/bench.log" || status=1
  echo "=== PyTorch on the same shapes"
  PYTHONUNBUFFERED=1 timeout 150 python3 "$here/gpu-bench-torch.py" "$out/bench.log" 2>&1 | tee "$out/ratios.log" || status=1
fi
if [ -n "${ZIMAGE_DIT_CHECK:-}" ]; then
  echo "=== real-size DiT (random weights): GPU vs CPU at 256², GPU timings at 512² and 1024²"
  timeout 300 $JAVA $FLAGS -cp "$CP" dev.zimage4j.dit.GpuDitCheck ${ZIMAGE_DIT_ARGS:-} 2>&1 | tee "$out/dit.log" || status=1
fi
if [ -n "${ZIMAGE_BENCH_REAL:-}" ]; then
  echo "=== full txt2img at the real sizes, random in-memory weights: process 1 (cold JIT cache), process 2 (warm)"
  for i in 1 2; do
    timeout 200 $JAVA $FLAGS -cp "$CP" dev.zimage4j.cli.Main bench-real --backend cuda --sizes 1024,512 --runs 5 \
      2>&1 | tee "$out/bench-real-$i.log" || status=1
  done
fi
if [ -n "${ZIMAGE_MODEL_CHECK:-}" ]; then
  echo "=== model-level check"
  timeout 300 $JAVA $FLAGS -Dzimage.root="$PWD" -cp "$CP" $ZIMAGE_MODEL_CHECK 2>&1 | tee "$out/model.log" || status=1
fi
exit $status
