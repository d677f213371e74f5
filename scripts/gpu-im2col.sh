#!/usr/bin/env bash
# Runs on the GPU machine, in one call, what validates the conv patch-matrix kernels: GpuCheck's conv group with the
# tiled kernel (default) and with the one-pass kernel (-Dzimage.cuda.im2col=chunk), then the profiled 1024² VAE decode
# (random FLUX-shaped weights) both ways, so the two im2col rows and the decode totals compare on one machine.
# Needs the device folder from scripts/gpu-prepare.sh with the core and bench jars (VaeBench). Logs go to $OUT.
#   usage (device tool): run(command="bash .device-NAME/gpu-im2col.sh", carry=[".device-NAME"])
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh"
for variant in tiled chunk; do
  echo "=== GpuCheck conv, im2col=$variant"
  $JAVA $FLAGS -Dzimage.cuda.im2col=$variant -Dzimage.cuda.syncEachLaunch=true -cp "$CP" dev.zimage4j.kernels.cuda.GpuCheck conv 2>&1 \
    | tee "$out/check-conv-$variant.log" || status=1
done
for variant in tiled chunk; do
  echo "=== VaeBench 1024² --profile, im2col=$variant"
  timeout 240 $JAVA $FLAGS -Dzimage.cuda.im2col=$variant -cp "$CP" dev.zimage4j.bench.VaeBench --vae /tmp/zimage-vae --backend cuda \
    --sizes 1024 --repeat 3 --profile 2>&1 | tee "$out/vae-$variant.log" || status=1
done
exit $status
