#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Long runs of the libFuzzer targets of tests/fuzz (docs/testing.md,
# "Fuzzing"), as a markdown table on stdout: inputs run, inputs a second,
# the corpus grown, and what was found. The corpus persists in
# $BUILD/fuzz-corpus/TARGET between runs; findings go to
# $BUILD/fuzz-artifacts/.
#
#   bench/fuzz.sh                      # every target, 10 million inputs each
#   bench/fuzz.sh --runs 1000000 uris  # one target, a million inputs
#   bench/fuzz.sh --seconds 10 uris    # one target for 10 s
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
limit=(-runs=10000000)
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --runs) limit=(-runs="$2"); shift 2 ;;
    --seconds) limit=(-max_total_time="$2"); shift 2 ;;
    -h|--help) sed -n '3,13p' "$0"; exit 0 ;;
    -*) echo "bench/fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  targets=($(cd "$ROOT/tests/fuzz/corpus" && ls))
fi

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "$ROOT" >&2
fi
ninja -C "$BUILD" >&2
for t in "${targets[@]}"; do
  if [ ! -x "$BUILD/tests/fuzz/fuzz-$t" ]; then
    echo "bench/fuzz.sh: $BUILD/tests/fuzz/fuzz-$t was not built (is clang++ installed?" \
      "meson configure -Dfuzzing=enabled says why)" >&2
    exit 1
  fi
done

export GST_REGISTRY=$BUILD/bench-registry.bin
export ASAN_OPTIONS=leak_check_at_exit=0
artifacts=$BUILD/fuzz-artifacts
mkdir -p "$artifacts"

echo "| target | inputs run | inputs/s | corpus kept | crashes, leaks, UB, timeouts |"
echo "|---|---:|---:|---:|---|"
status=0
for t in "${targets[@]}"; do
  corpus=$BUILD/fuzz-corpus/$t
  mkdir -p "$corpus"
  log=$(mktemp)
  echo "fuzzing $t (${limit[*]})..." >&2
  set +e
  "$BUILD/tests/fuzz/fuzz-$t" "${limit[@]}" -timeout=30 -rss_limit_mb=2048 -max_len=65536 \
    -error_exitcode=1 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
    "$corpus" "$ROOT/tests/fuzz/corpus/$t" > "$log" 2>&1
  code=$?
  set -e
  stat () { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  found=none
  if [ $code -ne 0 ]; then
    found="exit $code: $(grep -m1 -E 'SUMMARY|ERROR' "$log" || true); input in $artifacts"
    status=1
  fi
  echo "| $t | $(stat number_of_executed_units) | $(stat average_exec_per_sec) |" \
    "$(ls "$corpus" | wc -l) | $found |"
  rm -f "$log"
done
exit $status
