# Sourced by ./zimage, scripts/test.sh and .ci/run: finds a JDK 25+ and exports JAVA_HOME.
# Order: $JAVA_HOME if it is 25+, then the usual install locations. Stops with one line if none.
# The JDK's release file names its version without starting a JVM (which costs 0.1-0.5 s of every ./zimage start).
zimage_java_major() {
  local v=""
  [ -f "$1/release" ] && v=$(sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$1/release" | head -1)
  if [ -n "$v" ]; then echo "$v"; else "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1; fi
}
zimage_find_jdk() {
  local c v
  for c in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25* /usr/lib/jvm/jdk-25* \
           /usr/lib/jvm/temurin-2[6-9]* /usr/lib/jvm/*-2[6-9]* /opt/java/openjdk /usr/local/jdk-25* "$HOME"/.sdkman/candidates/java/25*; do
    [ -n "$c" ] && [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    v=$(zimage_java_major "$c"); v=${v%%.*}
    if [ -n "$v" ] && [ "$v" -ge 25 ] 2>/dev/null; then echo "$c"; return 0; fi
  done
  return 1
}
if ! JAVA_HOME=$(zimage_find_jdk); then
  echo "zimage4j needs a JDK 25 or newer (e.g. Temurin 25: apt-get install temurin-25-jdk, or set JAVA_HOME to one); none found." >&2
  exit 1
fi
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
