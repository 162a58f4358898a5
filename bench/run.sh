#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs the rtcstream benchmark and prints a markdown table on stdout
# (progress on stderr, child logs in $BUILD/bench-logs). About 3 minutes on 2 cores.
#
#   bench/run.sh                 # everything, defaults below
#   RUNS=5 REPS=1 WINDOW=5 CONSUMERS=1,5 bench/run.sh
#
# Builds with ninja first. If the root meson.build has subdir('bench') the
# binary is $BUILD/bench/rtcstream-bench; otherwise it is compiled here with
# the same flags into $BUILD/bench-standalone.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
RUNS=${RUNS:-10}
WINDOW=${WINDOW:-10}
WARMUP=${WARMUP:-3}
REPS=${REPS:-2}
CONSUMERS=${CONSUMERS:-1,5,20}

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "$ROOT" >&2
fi
ninja -C "$BUILD" >&2

BIN=$BUILD/bench/rtcstream-bench
if [ ! -x "$BIN" ]; then
  BIN=$BUILD/bench-standalone/rtcstream-bench
  SRC=$ROOT/bench/rtcstream-bench.cpp
  if [ ! -x "$BIN" ] || [ "$SRC" -nt "$BIN" ]; then
    mkdir -p "$(dirname "$BIN")"
    echo "compiling $BIN (add subdir('bench') to meson.build to build it with ninja)" >&2
    # shellcheck disable=SC2046
    c++ -std=c++17 -O2 -g -Wall -Wextra -Wnon-virtual-dtor -DGST_USE_UNSTABLE_API \
      "$SRC" -o "$BIN" -pthread \
      $(pkg-config --cflags --libs gstreamer-1.0 gstreamer-webrtc-1.0 gstreamer-sdp-1.0)
  fi
fi

SIGNALLING=$BUILD/signalling/rtcstream-signalling
LOGS=$BUILD/bench-logs
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log

# Only the freshly built plugin plus the system ones, in a registry of our own.
export GST_PLUGIN_PATH=$BUILD/plugins
export GST_REGISTRY=$BUILD/bench-registry.bin
export GST_DEBUG=${GST_DEBUG:-1}
export GST_DEBUG_NO_COLOR=1

exec "$BIN" run --signalling "$SIGNALLING" --runs "$RUNS" --reps "$REPS" --window "$WINDOW" \
  --warmup "$WARMUP" --consumers "$CONSUMERS" --log-dir "$LOGS"
