#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Viewer churn against one producer (docs/performance.md#viewer-churn): a
# markdown table on stdout, progress on stderr. The full 1000 cycles take
# most of an hour on 2 cores.
#
#   bench/churn.sh                  # 1000 cycles
#   bench/churn.sh --cycles 100     # quicker
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "$ROOT" >&2
fi
ninja -C "$BUILD" >&2

# Only the freshly built plugin plus the system ones, in a registry of our own.
export GST_PLUGIN_PATH=$BUILD/plugins
export GST_REGISTRY=$BUILD/bench-registry.bin
export GST_DEBUG=${GST_DEBUG:-1}
export GST_DEBUG_NO_COLOR=1
export RTCSTREAM_SIGNALLING=$BUILD/signalling/rtcstream-signalling

exec "$BUILD/bench/churn-bench" "$@"
