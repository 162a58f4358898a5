#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Time to first frame of this tree against another revision's, side by side
# in one run (and the bare webrtcbin pair), with where the time goes. Prints
# markdown on stdout (progress on stderr, logs in $BUILD/bench-logs/ttff).
# About 2 minutes with 20 runs on 2 cores.
#
#   bench/ttff.sh                # against main
#   RUNS=10 bench/ttff.sh HEAD~3 # against any revision
#
# The other revision is exported with git archive and built (its server and
# plugin only) under ${TMPDIR:-/tmp}, once per commit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
REV=${1:-main}
RUNS=${RUNS:-20}

ninja -C "$BUILD" >&2
SHA=$(git -C "$ROOT" rev-parse --short "$REV^{commit}")
BASE=${TMPDIR:-/tmp}/rtcstream-ttff-$SHA
if [ ! -x "$BASE/build/signalling/rtcstream-signalling" ] || \
   [ ! -f "$BASE/build/plugins/rtcstream/libgstrtcstream.so" ]; then
  rm -rf "$BASE"
  mkdir -p "$BASE/src"
  git -C "$ROOT" archive "$SHA" | tar -x -C "$BASE/src"
  meson setup "$BASE/build" "$BASE/src" >&2
  ninja -C "$BASE/build" signalling/rtcstream-signalling plugins/rtcstream/libgstrtcstream.so >&2
fi

LOGS=$BUILD/bench-logs/ttff
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log "$LOGS"/*.bin
export GST_DEBUG=${GST_DEBUG:-1}
export GST_DEBUG_NO_COLOR=1
# The bare pair runs in the orchestrator: system plugins only.
export GST_REGISTRY=$LOGS/registry-bare.bin
unset GST_PLUGIN_PATH
exec "$BUILD/bench/rtcstream-bench" ttff --variant "base-$SHA=$BASE/build" \
  --variant "this=$BUILD" --runs "$RUNS" --log-dir "$LOGS"
