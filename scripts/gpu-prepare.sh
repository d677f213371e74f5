#!/usr/bin/env bash
# Prepares, on the build machine, everything the GPU machine needs for scripts/gpu-run.sh, in the
# git-ignored folder DEST (default: <repo>/.device): the trimmed JDK 25 (../shared/tools/device-jdk.sh),
# the project's jars plus the kernels test classes (GpuCheck, GpuBench), and the run scripts.
#   usage: scripts/gpu-prepare.sh [DEST]
# Then, on the device tool: run(command="bash .device/gpu-run.sh", carry=[".device"]).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$root/.device}"
. "$root/scripts/java-env.sh"
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
(cd "$root" && mvn -o -q -B -pl kernels -am install -DskipTests && mvn -o -q -B -pl kernels test-compile)
mkdir -p "$dest/lib"
rm -f "$dest"/lib/*.jar
cp "$root"/safetensors/target/zimage4j-safetensors-*.jar "$root"/kernels/target/zimage4j-kernels-*.jar "$dest/lib/"
"$JAVA_HOME/bin/jar" cf "$dest/lib/zimage4j-kernels-tests.jar" -C "$root/kernels/target/test-classes" .
# model-level jars (core) when they build: GpuModelCheck runs tiny-a through the GPU if present
if [ -f "$root/core/target/zimage4j-core-0.1.0-SNAPSHOT.jar" ] && [ "${ZIMAGE_DEVICE_CORE:-1}" = 1 ]; then
  cp "$root"/core/target/zimage4j-core-*.jar "$root"/sampler/target/zimage4j-sampler-*.jar "$root"/bench/target/dist/lib/zimage4j-bench-*.jar "$dest/lib/" 2>/dev/null || true
  (cd "$root" && mvn -o -q -B -pl core test-compile) && "$JAVA_HOME/bin/jar" cf "$dest/lib/zimage4j-core-tests.jar" -C "$root/core/target/test-classes" .
  (cd "$root" && mvn -o -q -B -pl core dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile=/tmp/zimage-core-cp.txt >/dev/null) \
    && tr ':' '\n' < /tmp/zimage-core-cp.txt | grep '/jackson-' | xargs -r -I{} cp {} "$dest/lib/"
fi
cp "$root"/scripts/gpu-{common,run,throughput,verify,im2col}.sh "$root/scripts/gpu-bench-torch.py" "$dest/"
if [ ! -f "$dest/jdk.txz" ]; then
  tools="$root/../shared/tools"; [ -d "$tools" ] || tools=/work/shared/tools
  bash "$tools/device-jdk.sh" "$dest"
fi
du -sh "$dest"
