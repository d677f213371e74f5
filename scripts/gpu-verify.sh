#!/usr/bin/env bash
# One-call verification of a build on a 1-GPU machine (folder from scripts/gpu-prepare.sh, carried):
#   1. GpuCheck: every Backend op against the CPU backend, one process per group
#   2. check-reference testdata/tiny-a --backend cuda (the fixtures, GPU tolerance)
#   3. GpuBench + the same shapes in PyTorch (GEMM / attention ratios to cuBLAS / SDPA)
#   4. bench-real --backend cuda twice: kernel cache empty (every PTX compiled), then reused
#   5. GpuDitCheck --no-cpu and VaeBench --profile: per-kernel tables of one 1024² DiT forward and VAE decode
#   6. zimage aot-train + zimage bench --backend cuda (cold start through the launcher, demo model)
#   7. bench-throughput with the device list forced: one CUDA worker via the engine; cuda:0,cuda:1 must be refused
#   8. a real-size random model written as files (make-random-model --preset real, ~20 GB in /tmp/zimage-real), then
#      step 6 against it: cold start with the weights in the page cache (ZIMAGE_COLD_MODEL=/tmp/zimage-real)
# Every step runs under its own timeout, so a hang costs one step. VERIFY_STEPS selects the steps and their order (default 1 2 3 4 5 6 7).
#   usage (device tool): run(command="bash .device/gpu-verify.sh", carry=[".device"], timeout_s=600)
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/gpu-common.sh"
steps="${VERIFY_STEPS:-1 2 3 4 5 6 7}"   # 8 is opt-in (writes 20 GB)
t0=$SECONDS
stamp() { echo "=== [$((SECONDS - t0)) s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader || true

step1() {
  stamp "1 GpuCheck (gpu-run.sh's check, every group; ZIMAGE_CHECK_GROUPS narrows it)"
  ZIMAGE_NO_BENCH=1 bash "$here/gpu-run.sh" > "$out/check-run.log" 2>&1 || status=1
  tail -1 "$out/check-run.log"; grep ' FAIL ' "$out/check.log" | head -20
}
step2() {
  stamp "2 check-reference tiny-a --backend cuda"
  timeout 120 $JAVA $FLAGS -Dzimage.root="$PWD" -cp "$CP" dev.zimage4j.cli.Main check-reference testdata/tiny-a --backend cuda > "$out/check-reference.log" 2>&1 || status=1
  grep -E "FAIL" "$out/check-reference.log" | head; tail -2 "$out/check-reference.log"
}
step3() {
  stamp "3 GpuBench + PyTorch"
  timeout 150 $JAVA $FLAGS -cp "$CP" dev.zimage4j.kernels.cuda.GpuBench ${ZIMAGE_BENCH_ARGS:---no-sweep} > "$out/bench.log" 2>&1 || status=1
  PYTHONUNBUFFERED=1 timeout 120 python3 "$here/gpu-bench-torch.py" "$out/bench.log" > "$out/ratios.log" 2>&1 || status=1
  tail -25 "$out/ratios.log"
}
step4() {
  for i in 1 2; do
    stamp "4 bench-real process $i (kernel cache $([ $i = 1 ] && echo empty || echo reused), driver JIT cache off)"
    CUDA_CACHE_DISABLE=1 ZIMAGE_KERNEL_CACHE=/tmp/kcache timeout 150 $JAVA $FLAGS -cp "$CP" dev.zimage4j.cli.Main bench-real --backend cuda \
      --sizes 1024,512 --runs 5 > "$out/bench-real-$i.log" 2>&1 || status=1
    sed -n '/=== summary/,$p' "$out/bench-real-$i.log" | head -40
  done
}
step5() {
  stamp "5 GpuDitCheck --no-cpu"
  timeout 120 $JAVA $FLAGS -Xmx8g -cp "$CP" dev.zimage4j.dit.GpuDitCheck --no-cpu > "$out/dit.log" 2>&1 || status=1
  tail -30 "$out/dit.log"
  stamp "5 VaeBench 1024² --profile (random FLUX-shaped VAE)"
  timeout 120 $JAVA $FLAGS -cp "$CP" dev.zimage4j.bench.VaeBench --vae /tmp/zimage-vae --backend cuda --sizes 1024 --repeat 3 --profile \
    > "$out/vae.log" 2>&1 || status=1
  tail -25 "$out/vae.log"
}
step6() {
  stamp "6 zimage aot-train + zimage bench --backend cuda (launcher, model: ${ZIMAGE_COLD_MODEL:-demo})"
  mkdir -p bench/target/dist && ln -sfn "$here/lib" bench/target/dist/lib && touch bench/target/dist/.built
  export ZIMAGE_JAVA=$JAVA ZIMAGE_NO_BUILD=1 XDG_CACHE_HOME=/tmp/zcache
  timeout 90 ./zimage aot-train > "$out/aot-train.log" 2>&1 || { status=1; tail -5 "$out/aot-train.log"; }
  local model=(); [ -n "${ZIMAGE_COLD_MODEL:-}" ] && model=(--model "$ZIMAGE_COLD_MODEL")
  timeout "${ZIMAGE_COLD_TIMEOUT:-240}" ./zimage bench --backend cuda "${model[@]}" ${ZIMAGE_COLD_ARGS:---cold-runs 2 --requests 20 --rounds 2} \
    --out "$out/bench-cuda" > "$out/bench-cuda.log" 2>&1 || status=1
  grep -E "^(bare|cold)|P50|error|Exception" "$out/bench-cuda.log" | head -30
  unset ZIMAGE_JAVA ZIMAGE_NO_BUILD
}
step7() {
  stamp "7 bench-throughput --devices cuda:0 (demo model, one CUDA worker behind the queue)"
  timeout 90 $JAVA $FLAGS -cp "$CP" dev.zimage4j.cli.Main bench-throughput --devices cuda:0 --size 1024x1024 --requests 8 --only-all \
    --out /tmp/zimage-tp > "$out/throughput-1gpu.log" 2>&1 || status=1
  tail -8 "$out/throughput-1gpu.log"
  stamp "7 bench-throughput --devices cuda:0,cuda:1 on one GPU: must be refused with a clear error"
  timeout 60 $JAVA $FLAGS -cp "$CP" dev.zimage4j.cli.Main bench-throughput --devices cuda:0,cuda:1 --size 256x256 --requests 2 --only-all \
    --out /tmp/zimage-tp2 > "$out/throughput-refused.log" 2>&1 && { status=1; echo "NOT refused"; }
  tail -3 "$out/throughput-refused.log"
}
step8() {
  stamp "8 real-size random model as files (page cache), then the launcher cold-start bench on it"
  if [ ! -f /tmp/zimage-real.complete ]; then
    timeout 240 $JAVA $FLAGS -cp "$CP" dev.zimage4j.cli.Main make-random-model --preset real --out /tmp/zimage-real > "$out/make-real.log" 2>&1 \
      && touch /tmp/zimage-real.complete || { status=1; tail -3 "$out/make-real.log"; return; }
  fi
  stamp "8 written"; du -sh /tmp/zimage-real
  ZIMAGE_COLD_MODEL=/tmp/zimage-real step6
}
for n in $steps; do "step$n"; done
stamp "done, status $status"
exit $status
