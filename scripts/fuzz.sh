#!/usr/bin/env bash
# Build every fuzz target with clang + libFuzzer + ASan + UBSan into build-fuzz/ and fuzz each for
# N seconds (default 30), two at a time, after replaying its seeds and past crashes.
#   scripts/fuzz.sh [SECONDS]
# New inputs go to build-fuzz/fuzz/corpus/<name>/; a crash fails its test and leaves crash-* files
# in build-fuzz/fuzz/ — copy one into fuzz/regressions/<name>/ once fixed.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPDTP_BUILD_FUZZERS=ON \
  -DPDTP_BUILD_APPS=OFF -DPDTP_BUILD_BENCH=OFF -DPDTP_FUZZ_SECONDS="$seconds" >/dev/null || exit 1
cmake --build build-fuzz -j"$(nproc)" || exit 1
(cd build-fuzz && ctest --output-on-failure -j"$(nproc)" -L fuzz) 2>&1 | tee build-fuzz/ctest.log
exit "${PIPESTATUS[0]}"
