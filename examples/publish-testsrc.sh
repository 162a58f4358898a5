#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# publish-testsrc.sh: publish a test picture and a test tone with rtcstreamsink.
#
#   examples/publish-testsrc.sh [HOST:PORT] [STREAM]
#
#   HOST:PORT  the rtcstream-signalling server (default 127.0.0.1:8443)
#   STREAM     the name viewers ask for (default: test)
#
# The signalling server must already be running there, for example:
#   build/signalling/rtcstream-signalling --port 8443
# Then watch with examples/watch.sh or examples/play.sh (same HOST:PORT and STREAM).
#
# Raw video and audio go in: rtcstreamsink encodes them in the codec each viewer
# accepts (VP8, H264 or VP9 for video, Opus for audio), one encoder per codec however
# many viewers there are. Ctrl-C sends EOS (gst-launch -e): viewers get end-of-stream.
#
# Environment:
#   RTCSTREAM_SCHEME  rtcstreams for a TLS (wss://) server (default rtcstream)
#   WIDTH HEIGHT FPS  picture size and rate (default 640 480 30)
#   GST_PLUGIN_PATH   where the plugin is (default: build/plugins of this checkout)
#   GST_DEBUG         e.g. rtcstreamsink:5,rtcstream-signaller:5 for details
set -eu

ADDR=${1:-127.0.0.1:8443}
STREAM=${2:-test}
SCHEME=${RTCSTREAM_SCHEME:-rtcstream}
WIDTH=${WIDTH:-640}
HEIGHT=${HEIGHT:-480}
FPS=${FPS:-30}

here=$(cd "$(dirname "$0")" && pwd)
. "$here/plugin-path.sh"
use_rtcstream_plugin rtcstreamsink

echo "publishing $SCHEME://$ADDR/$STREAM (Ctrl-C to stop)"
exec gst-launch-1.0 -e \
  rtcstreamsink name=sink uri="$SCHEME://$ADDR/$STREAM" \
  videotestsrc is-live=true pattern=ball \
    ! "video/x-raw,width=$WIDTH,height=$HEIGHT,framerate=$FPS/1" \
    ! sink.video_0 \
  audiotestsrc is-live=true wave=ticks \
    ! sink.audio_0
