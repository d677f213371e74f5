#!/usr/bin/env bash
# The GEMM engineer's device run (same folder as gpu-run.sh, from scripts/gpu-prepare.sh): GpuCheck groups
# (default "gemm variants"), then GpuBench and the PyTorch ratios, each step under a timeout so a hung kernel
# costs one step, not the whole lease. Logs in $OUT.
#   usage (device tool): run(command="bash .device-NAME/gpu-gemm.sh", carry=[".device-NAME"], timeout_s=...)
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
: > "$out/check.log"
for g in ${ZIMAGE_CHECK_GROUPS:-gemm variants}; do
  timeout "${ZIMAGE_CHECK_TIMEOUT:-120}" $JAVA $FLAGS -Dzimage.cuda.syncEachLaunch=true -cp "$CP" dev.zimage4j.kernels.cuda.GpuCheck $g 2>&1 | tee -a "$out/check.log" || status=1
done
if [ -n "${ZIMAGE_CHECK_CLUSTER:-}" ]; then # the same groups with the 2-CTA cluster GEMMs as the Hopper default
  for g in ${ZIMAGE_CHECK_CLUSTER_GROUPS:-gemm graphs}; do
    echo "--- group $g with -Dzimage.cuda.gemmCluster=true"
    timeout "${ZIMAGE_CHECK_TIMEOUT:-120}" $JAVA $FLAGS -Dzimage.cuda.syncEachLaunch=true -Dzimage.cuda.gemmCluster=true -cp "$CP" \
      dev.zimage4j.kernels.cuda.GpuCheck $g 2>&1 | tee -a "$out/check.log" || status=1
  done
fi
echo "check: $(grep -c ' ok ' "$out/check.log") ok, $(grep -c ' FAIL ' "$out/check.log") FAIL"
if [ -z "${ZIMAGE_NO_BENCH:-}" ]; then
  timeout "${ZIMAGE_BENCH_TIMEOUT:-240}" $JAVA $FLAGS -cp "$CP" dev.zimage4j.kernels.cuda.GpuBench ${ZIMAGE_BENCH_ARGS:-} 2>&1 | tee "$out/bench.log" || status=1
  PYTHONUNBUFFERED=1 timeout 150 python3 "$here/gpu-bench-torch.py" "$out/bench.log" 2>&1 | tee "$out/ratios.log" || status=1
fi
exit $status
