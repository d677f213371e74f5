#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine (idempotent, quiet when all is there).
set -euo pipefail
need=()
command -v mvn >/dev/null || need+=(maven)
ls -d /usr/lib/jvm/*-25* >/dev/null 2>&1 || [ -n "${JAVA_HOME:-}" ] || need+=(temurin-25-jdk)
# headless Chromium + chromedriver for the web page's end-to-end test (WebUiBrowserTest skips without them)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  echo "ci-setup: installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
