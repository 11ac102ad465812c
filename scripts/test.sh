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
  scripts/fuzz.sh "$seconds" || status=1
fi

# One closing line over both runs.
count() { grep -hoE "tests passed, [0-9]+ tests failed out of [0-9]+" "$@" | awk '{f+=$3; t+=$8} END {print t-f, f}'; }
read -r passed failed < <(count build/ctest.log build-fuzz/ctest.log 2>/dev/null)
echo "${passed:-0} passed, ${failed:-0} failed"
[ "${failed:-1}" -eq 0 ] || status=1
exit $status
