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
# dropped inside rtcstreamsrc without disturbing the others. For a producer
# without audio set AUDIO=0: audio_0 then never appears, and the audio sink,
# waiting for it, would keep the whole pipeline from playing.
#
# Environment:
#   RTCSTREAM_SCHEME  rtcstreams for a TLS (wss://) server (default rtcstream)
#   LATENCY           playout delay in ms (default -1: adaptive, as low as the network allows;
#                     N: fixed at N ms)
#   AUDIO=0           video only, for a producer without audio
#   VIDEO_SINK        default autovideosink (e.g. fakesink on a machine with no display)
#   AUDIO_SINK        default autoaudiosink (e.g. fakesink)
#   GST_PLUGIN_PATH   where the plugin is (default: build/plugins of this checkout)
set -eu

ADDR=${1:-127.0.0.1:8443}
STREAM=${2:-test}
SCHEME=${RTCSTREAM_SCHEME:-rtcstream}
LATENCY=${LATENCY:--1}
VIDEO_SINK=${VIDEO_SINK:-autovideosink}
AUDIO_SINK=${AUDIO_SINK:-autoaudiosink}
AUDIO=${AUDIO:-1}

here=$(cd "$(dirname "$0")" && pwd)
. "$here/plugin-path.sh"
use_rtcstream_plugin rtcstreamsrc

echo "watching $SCHEME://$ADDR/$STREAM (Ctrl-C to stop)"
AUDIO_BRANCH=""
if [ "$AUDIO" != 0 ]; then
  AUDIO_BRANCH="src.audio_0 ! queue ! audioconvert ! audioresample ! $AUDIO_SINK"
fi
# $VIDEO_SINK and $AUDIO_BRANCH stay unquoted so they may carry properties.
# shellcheck disable=SC2086
exec gst-launch-1.0 \
  rtcstreamsrc name=src uri="$SCHEME://$ADDR/$STREAM" latency="$LATENCY" \
  src.video_0 ! queue ! videoconvert ! $VIDEO_SINK \
  $AUDIO_BRANCH
