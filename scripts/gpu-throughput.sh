#!/usr/bin/env bash
# Runs on a 2-GPU machine (issue 11): images/s of 1024x1024 requests with one worker (cuda:0) against one
# worker per GPU (cuda:0,cuda:1), the ratio (target >= 1.9x), each GPU's busy fraction and jobs, and the
# lost/duplicated-job check. Expects the folder made by scripts/gpu-prepare.sh at .device (carried).
# The model is a real-size random Z-Image (make-random-model --preset real, ~20 GB, written once to
# $ZIMAGE_TP_MODEL, default /tmp/zimage-real; throughput does not depend on the weights' values).
#   usage (device tool, kind nvidia-h200-x2):
#     run(command="bash .device/gpu-throughput.sh", carry=[".device"], kind="nvidia-h200-x2")
#   env: ZIMAGE_TP_DEVICES (default cuda:0,cuda:1), ZIMAGE_TP_ARGS (default --size 1024x1024 --requests 32)
set -uo pipefail
ZIMAGE_HEAP=48g . "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh"
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader || true
model="${ZIMAGE_TP_MODEL:-/tmp/zimage-real}"
if [ ! -f "$model.complete" ]; then
  echo "=== writing a real-size random model to $model"
  rm -rf "$model"
  $JAVA $FLAGS -cp "$CP" dev.zimage4j.cli.Main make-random-model --preset real --out "$model" 2>&1 | tail -3 || exit 1
  touch "$model.complete"
fi
echo "=== throughput: one worker vs ${ZIMAGE_TP_DEVICES:-cuda:0,cuda:1}"
$JAVA $FLAGS -cp "$CP" dev.zimage4j.bench.ThroughputBench --devices "${ZIMAGE_TP_DEVICES:-cuda:0,cuda:1}" --model "$model" \
  --out /tmp/zimage-tp ${ZIMAGE_TP_ARGS:---size 1024x1024 --requests 32} 2>&1 | tee "$out/throughput.log"
exit "${PIPESTATUS[0]}"
