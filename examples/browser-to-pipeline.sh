#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Receives a browser's camera and microphone in a pipeline. Open
# http://HOST:PORT/publish.html?name=STREAM in a browser and click Publish;
# this waits (up to producer-timeout) for the stream to appear.
# Assumes rtcstream-signalling runs at HOST:PORT.
#   examples/browser-to-pipeline.sh [HOST:PORT] [STREAM]
#   VIDEO_SINK=fakesink AUDIO_SINK=fakesink examples/browser-to-pipeline.sh   # no display, no sound
set -eu

ADDR=${1:-127.0.0.1:8443}
STREAM=${2:-webcam}
VIDEO_SINK=${VIDEO_SINK:-autovideosink}
AUDIO_SINK=${AUDIO_SINK:-autoaudiosink}

here=$(cd "$(dirname "$0")" && pwd)
. "$here/plugin-path.sh"
use_rtcstream_plugin rtcstreamsrc

echo "open http://$ADDR/publish.html?name=$STREAM in a browser and click Publish"
exec gst-launch-1.0 rtcstreamsrc name=src uri="rtcstream://$ADDR/$STREAM" producer-timeout=-1 \
  src.video_0 ! queue ! videoconvert ! "$VIDEO_SINK" \
  src.audio_0 ! queue ! audioconvert ! audioresample ! "$AUDIO_SINK"
