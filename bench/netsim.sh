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
#   bench/netsim.sh ladder                      # producer CPU, 3-rung ladder against one
#                                               # encoder, 1/5/20 viewers, twice; ~10 minutes
#   bench/netsim.sh compare                     # rtcstream against a bare webrtcbin pair with
#                                               # no cap and caps 2M/1M/500k/300k, 1/5/10% loss
#                                               # with 40 ms RTT, a 4M -> 500k drop: fps, glass
#                                               # to glass, bitrate; ~15 minutes
#   bench/netsim.sh g2g                         # glass to glass, adaptive playout against
#                                               # bare webrtcbin 200/50/0 and Chromium, clean
#                                               # and 10/30 ms jitter; ~10 minutes
#   bench/netsim.sh g2g --jitter 0 --receivers adaptive,bare-0,chromium
#   bench/netsim.sh probe                       # upward probing on and off, side by side:
#                                               # a 150 kbit/s cap lifted, a 4M -> 500k -> 4M
#                                               # drop; twice each; ~5 minutes
set -euo pipefail

# shellcheck source=bench/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export NETSIM_DELAY=$BUILD/tests/netsim/netsim-delay
export NETSIM_GST=$BUILD/tests/netsim/netsim-gst
export RTCSTREAM_BENCH=$BUILD/bench/rtcstream-bench
# The Chromium receiver of g2g: the netsim tests' viewer script.
NETSIM_NODE=$(command -v node || true)
export NETSIM_NODE
export NETSIM_CHROMIUM_VIEWER=$ROOT/tests/netsim/chromium-viewer.mjs

exec "$BUILD/bench/netsim-bench" "$@"
