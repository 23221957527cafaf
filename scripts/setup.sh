#!/usr/bin/env bash
# Installs the system packages the build needs (Debian/Ubuntu). Safe to run twice.
set -euo pipefail

packages=(libgmp-dev pkg-config)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
elif command -v sudo >/dev/null 2>&1; then
  sudo apt-get install -y -qq "${missing[@]}"
else
  echo "setup: please install these Debian packages first: ${missing[*]}" >&2
  exit 1
fi
