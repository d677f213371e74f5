# Sourced by the scripts that run on the GPU machine (gpu-run.sh, gpu-verify.sh, gpu-throughput.sh): unpacks the
# trimmed JDK carried in the folder made by scripts/gpu-prepare.sh and sets JAVA, CP (the folder's jars), FLAGS,
# out (= $OUT, where the logs go) and the driver's JIT cache directory.
here="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
out="${OUT:-/tmp/zimage-out}"; mkdir -p "$out"
[ -x /tmp/jdk/bin/java ] || tar xJf "$here/jdk.txz" -C /tmp
JAVA=/tmp/jdk/bin/java
CP="$here/lib/*"
# direct memory as bench-real uses it (pinned upload staging, converted weights)
FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx${ZIMAGE_HEAP:-24g} -XX:MaxDirectMemorySize=100g"
export CUDA_CACHE_PATH=/tmp/cuda-cache
status=0
