#!/usr/bin/env bash
# Quick CPU GEMM benchmark: CpuBackend.linear (F32 and BF16 weights) at the DiT's shapes, side by side with
# OpenBLAS SGEMM through numpy in the same run, printing GFLOP/s and ratios; then attention GFLOP/s and
# the JIT warm-up curve. Usage: scripts/bench-gemm.sh [GemmBench options, e.g. --seconds 1 --shapes 1024,3840,3840]
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for the numpy child only (so OpenBLAS picks its native kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/java-env.sh
export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
python3 -c 'import numpy' 2>/dev/null || { echo "numpy is missing: the OpenBLAS baseline is skipped" >&2; NO_NUMPY=1; }
mvn -o -q -B -pl bench -am install -DskipTests
CP="bench/target/dist/lib/*"
exec java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx8g -XX:+UseParallelGC \
  -cp "$CP" dev.zimage4j.bench.GemmBench ${NO_NUMPY:+--python ""} "$@"
