#!/usr/bin/env bash
# Installs what the browser and compatibility tests need beyond the build:
# Debian's Chromium (the Board test drives it), and checks for node/npm and python3.
set -euo pipefail
missing=()
for pkg in chromium chromium-driver; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get install -y -qq "${missing[@]}"
  else
    echo "setup-tests: please install these Debian packages first: ${missing[*]}" >&2
    exit 1
  fi
fi
for tool in node npm python3; do
  command -v "$tool" >/dev/null || { echo "setup-tests: $tool is needed by the tests" >&2; exit 1; }
done
