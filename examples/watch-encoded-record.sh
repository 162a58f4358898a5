#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# watch-encoded-record.sh: record a stream to a file as it arrives, without
# decoding: H264 video and Opus audio straight into MP4 or Matroska.
#
#   examples/watch-encoded-record.sh [HOST:PORT] [STREAM] [FILE]
#
#   HOST:PORT  the rtcstream-signalling server (default 127.0.0.1:8443)
#   STREAM     the stream to record (default: test)
#   FILE       output; .mp4 uses mp4mux, anything else matroskamux
#              (default: STREAM.mkv)
#
# rtcstreamsrc decodes by default; a pad whose downstream accepts only encoded caps
# (here the capsfilters video/x-h264 and audio/x-opus) gets the depayloaded stream
# as is, parsed, and no decoder runs. video-codecs=H264 makes rtcstreamsrc accept
# only H264, so a producer encoding raw input (publish-testsrc.sh) encodes H264 for
# this viewer; a producer passing H264 through (publish-h264-passthrough.sh) works
# too. A producer that only sends VP8 or VP9 cannot serve this viewer.
#
# The recording ends cleanly when the producer stops (rtcstreamsrc sends EOS).
# Stop it yourself with Ctrl-C: gst-launch -e sends EOS, rtcstreamsrc leaves the
# session and drains, and the muxer finishes the file. MP4 is written fragmented
# (mp4mux fragment-duration=1000) so even a killed recording stays playable.
#
# Environment:
#   AUDIO=0           record video only; the audio pad, if any, goes to a fakesink
#                     (set it when the producer sends no audio, or the muxer waits
#                     for audio that never comes)
#   RTCSTREAM_SCHEME  rtcstreams for a TLS (wss://) server (default rtcstream)
#   LATENCY           fixed playout delay in ms (default 50; more over the internet: fewer
#                     holes in the recording, at no cost since nobody watches live)
#   GST_PLUGIN_PATH   where the plugin is (default: build/plugins of this checkout)
set -eu

ADDR=${1:-127.0.0.1:8443}
STREAM=${2:-test}
FILE=${3:-$STREAM.mkv}
SCHEME=${RTCSTREAM_SCHEME:-rtcstream}
LATENCY=${LATENCY:-50}
AUDIO=${AUDIO:-1}

case "$FILE" in
  *.mp4) MUX="mp4mux fragment-duration=1000" ;;
  *) MUX="matroskamux" ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
. "$here/plugin-path.sh"
use_rtcstream_plugin rtcstreamsrc

if [ "$AUDIO" = 0 ]; then
  AUDIO_BRANCH="src.audio_0 ! fakesink async=false"
else
  AUDIO_BRANCH="src.audio_0 ! audio/x-opus ! opusparse ! queue ! mux."
fi

echo "recording $SCHEME://$ADDR/$STREAM to $FILE with $MUX (Ctrl-C to stop)"
# $AUDIO_BRANCH is a pipeline fragment: it must be split into words.
# shellcheck disable=SC2086
exec gst-launch-1.0 -e \
  rtcstreamsrc name=src uri="$SCHEME://$ADDR/$STREAM" video-codecs=H264 latency="$LATENCY" \
  src.video_0 ! video/x-h264 ! h264parse ! queue ! mux. \
  $AUDIO_BRANCH \
  $MUX name=mux ! filesink location="$FILE"
