#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-fuzzer.sh FUZZER SEEDS SECONDS [LIBFUZZER OPTIONS...]
# Runs a libFuzzer target for SECONDS over a fresh corpus grown from the
# seed directory SEEDS (which it only reads). A crash, a leak, undefined
# behaviour or a timeout fails it; the input that did it is kept in
# $FUZZ_ARTIFACTS (default: the current directory) and printed base64.
set -eu
fuzzer=$1 seeds=$2 seconds=$3
shift 3
artifacts=${FUZZ_ARTIFACTS:-.}
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -error_exitcode=1 \
  -print_final_stats=1 -artifact_prefix="$artifacts/$(basename "$fuzzer")-" "$@" \
  "$work/corpus" "$seeds"
