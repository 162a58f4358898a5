#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# publish-h264-passthrough.sh: publish video you encode yourself (H264) and
# audio already in Opus; rtcstreamsink sends them as they are, without
# decoding or re-encoding.
#
#   examples/publish-h264-passthrough.sh [HOST:PORT] [STREAM]
#
#   HOST:PORT  the rtcstream-signalling server (default 127.0.0.1:8443)
#   STREAM     the name viewers ask for (default: h264)
#
# The signalling server must already be running there. Watch with
# examples/watch.sh, or record without decoding with examples/watch-encoded-record.sh.
#
# When rtcstreamsink gets encoded caps (video/x-h264, video/x-vp8, video/x-vp9,
# audio/x-opus) it offers viewers that one codec only and runs no encoder of its own
# (the sink's stats report encoders=0). A viewer that does not accept H264 is refused
# with a warning on the bus. Use this when the source is already encoded (a hardware
# encoder, an IP camera, a file) or to pick the encoder and its settings yourself.
#
# What the encoder must do for WebRTC: byte-stream or avc with alignment=au (the
# sink's pad template), constrained-baseline profile for browsers, no B-frames
# (tune=zerolatency), and a keyframe when asked: a joining viewer sends a
# force-key-unit event upstream, which x264enc honours.
#
# Environment:
#   RTCSTREAM_SCHEME  rtcstreams for a TLS (wss://) server (default rtcstream)
#   BITRATE           x264enc bitrate in kbit/s (default 2000)
#   GST_PLUGIN_PATH   where the plugin is (default: build/plugins of this checkout)
set -eu

ADDR=${1:-127.0.0.1:8443}
STREAM=${2:-h264}
SCHEME=${RTCSTREAM_SCHEME:-rtcstream}
BITRATE=${BITRATE:-2000}

here=$(cd "$(dirname "$0")" && pwd)
. "$here/plugin-path.sh"
use_rtcstream_plugin rtcstreamsink

echo "publishing H264 + Opus, passed through, on $SCHEME://$ADDR/$STREAM (Ctrl-C to stop)"
exec gst-launch-1.0 -e \
  rtcstreamsink name=sink uri="$SCHEME://$ADDR/$STREAM" \
  videotestsrc is-live=true pattern=ball \
    ! video/x-raw,width=1280,height=720,framerate=30/1 \
    ! videoconvert ! video/x-raw,format=I420 \
    ! x264enc tune=zerolatency speed-preset=ultrafast bitrate="$BITRATE" key-int-max=120 \
    ! video/x-h264,profile=constrained-baseline \
    ! sink.video_0 \
  audiotestsrc is-live=true wave=ticks \
    ! audioconvert ! audioresample \
    ! opusenc frame-size=20 \
    ! sink.audio_0
