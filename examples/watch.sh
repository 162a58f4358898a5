#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# watch.sh: watch a stream with rtcstreamsrc, decoded, in a window and on the speakers.
#
#   examples/watch.sh [HOST:PORT] [STREAM]
#
#   HOST:PORT  the rtcstream-signalling server (default 127.0.0.1:8443)
#   STREAM     the stream to watch (default: test)
#
# The stream may be published before or after this starts: rtcstreamsrc waits
# producer-timeout (30 s) for it. When the producer stops, the pipeline gets EOS and
# this exits.
#
# Both pads are linked by name (src.video_0, src.audio_0). A pad left unlinked is
# dropped inside rtcstreamsrc without disturbing the others. A producer without
# audio is fine: audio_0 then never appears.
#
# Environment:
#   RTCSTREAM_SCHEME  rtcstreams for a TLS (wss://) server (default rtcstream)
#   LATENCY           jitterbuffer in ms (default 50, for a LAN; ~200 over the internet)
#   VIDEO_SINK        default autovideosink (e.g. fakesink on a machine with no display)
#   AUDIO_SINK        default autoaudiosink (e.g. fakesink)
#   GST_PLUGIN_PATH   where the plugin is (default: build/plugins of this checkout)
set -eu

ADDR=${1:-127.0.0.1:8443}
STREAM=${2:-test}
SCHEME=${RTCSTREAM_SCHEME:-rtcstream}
LATENCY=${LATENCY:-50}
VIDEO_SINK=${VIDEO_SINK:-autovideosink}
AUDIO_SINK=${AUDIO_SINK:-autoaudiosink}

here=$(cd "$(dirname "$0")" && pwd)
. "$here/plugin-path.sh"
use_rtcstream_plugin rtcstreamsrc

echo "watching $SCHEME://$ADDR/$STREAM (Ctrl-C to stop)"
# $VIDEO_SINK and $AUDIO_SINK stay unquoted so they may carry properties.
# shellcheck disable=SC2086
exec gst-launch-1.0 \
  rtcstreamsrc name=src uri="$SCHEME://$ADDR/$STREAM" latency="$LATENCY" \
  src.video_0 ! queue ! videoconvert ! $VIDEO_SINK \
  src.audio_0 ! queue ! audioconvert ! audioresample ! $AUDIO_SINK
