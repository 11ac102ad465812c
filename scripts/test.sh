#!/usr/bin/env bash
# The whole test suite: unit, integration, packaging and fuzz-replay tests (ctest, g++ build), then
# every fuzz target under libFuzzer + ASan + UBSan for FUZZ_SECONDS each (clang build).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 1
scripts/build.sh || exit 1

status=0
rm -f build/ctest.log build-fuzz/ctest.log  # count only this run
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 900) 2>&1 | tee build/ctest.log
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

seconds="${FUZZ_SECONDS:-30}"
if [ "$seconds" -gt 0 ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPDTP_BUILD_FUZZERS=ON \
    -DPDTP_BUILD_APPS=OFF -DPDTP_BUILD_BENCH=OFF -DPDTP_FUZZ_SECONDS="$seconds" >/dev/null || exit 1
  cmake --build build-fuzz -j"$(nproc)" || exit 1
  (cd build-fuzz && ctest --output-on-failure -j"$(nproc)" -L fuzz) 2>&1 | tee build-fuzz/ctest.log
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

# One closing line over both runs.
count() { grep -hoE "tests passed, [0-9]+ tests failed out of [0-9]+" "$@" | awk '{f+=$3; t+=$8} END {print t-f, f}'; }
read -r passed failed < <(count build/ctest.log build-fuzz/ctest.log 2>/dev/null)
echo "${passed:-0} passed, ${failed:-0} failed"
[ "${failed:-1}" -eq 0 ] || status=1
exit $status
