#!/usr/bin/env bash
# scripts/deps.sh - install every Debian package kvbm needs to build, test and run.
# Idempotent: installs only what is missing. Needs root (or sudo) and apt on first use.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang libclang-rt-dev
      libxxhash-dev libjson-c-dev libmsgpack-dev nats-server libnats-dev libzmq3-dev python3-zmq python3-msgpack)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
