#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what is needed, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
rc=0
meson test -C build --print-errorlogs --num-processes 2 "$@" || rc=$?
# One closing line over every case of every suite: GoogleTest cases and the
# browser suite's node:test cases ("# pass N" / "# fail N" / "# skipped N").
log=build/meson-logs/testlog.txt
sum_node () { grep -E "^# $1 [0-9]+$" "$log" | awk '{s += $3} END {print s + 0}'; }
passed=$(( $(grep -c '^\[       OK \]' "$log" || true) + $(sum_node pass) ))
failed=$(( $(grep -cE '^\[  FAILED  \] .*\([0-9]+ ms\)$' "$log" || true) + $(sum_node fail) ))
skipped=$(( $(grep -cE '^\[  SKIPPED \] .*\([0-9]+ ms\)$' "$log" || true) + $(sum_node skipped) ))
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $rc
