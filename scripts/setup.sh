#!/usr/bin/env bash
# Install everything the project needs from Debian's packages. Idempotent: installs only what is missing.
set -euo pipefail

packages=(
  g++ cmake make pkg-config                 # toolchain
  clang libclang-rt-14-dev libfuzzer-14-dev  # libFuzzer and sanitizers
  libasio-dev nlohmann-json3-dev libssl-dev libsodium-dev libyaml-cpp-dev libcli11-dev catch2
  curl jq procps iproute2                   # integration tests
  chromium                                  # status page test in a real browser
  nginx-light                               # data-plane benchmark reference
  iptables libnetfilter-queue-dev libmnl-dev  # emulated lossy path (bench/lossy_path.sh, bench/nfq_delay)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
