#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Measurements on the network simulator (docs/testing.md), as markdown on
# stdout. Needs root (network namespaces), like the netsim tests.
#
#   bench/netsim.sh delay                       # the delay line's precision, ~1 minute
#   bench/netsim.sh stream                      # caps none, 2M, 1M, 500k, 300k, congestion
#                                               # control off and on; ~9 minutes
#   bench/netsim.sh stream --caps 500 --seconds 45
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
export NETSIM_DELAY=$BUILD/tests/netsim/netsim-delay
export NETSIM_GST=$BUILD/tests/netsim/netsim-gst

exec "$BUILD/bench/netsim-bench" "$@"
