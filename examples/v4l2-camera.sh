#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# v4l2-camera.sh: publish a real camera (Video4Linux2) and, optionally, the
# default microphone.
#
#   examples/v4l2-camera.sh [HOST:PORT] [STREAM] [DEVICE]
#
#   HOST:PORT  the rtcstream-signalling server (default 127.0.0.1:8443)
#   STREAM     the name viewers ask for (default: cam)
#   DEVICE     the camera (default /dev/video0; list them with v4l2-ctl --list-devices)
#
# The signalling server must already be running there. To let viewers on other
# machines in: run it with --host 0.0.0.0 and use this machine's address.
#
# The camera's raw frames go in; rtcstreamsink encodes them once per codec its
# viewers accept. Many USB cameras give 720p or 1080p at 30 fps only as MJPEG:
# FORMAT=mjpeg decodes that first. See what yours offers with
#   v4l2-ctl -d /dev/video0 --list-formats-ext
#
# Environment:
#   WIDTH HEIGHT FPS  what to ask the camera for (default 1280 720 30)
#   FORMAT            raw (default) or mjpeg
#   AUDIO=1           also publish the default microphone (autoaudiosrc)
#   RTCSTREAM_SCHEME  rtcstreams for a TLS (wss://) server (default rtcstream)
#   GST_PLUGIN_PATH   where the plugin is (default: build/plugins of this checkout)
set -eu

ADDR=${1:-127.0.0.1:8443}
STREAM=${2:-cam}
DEVICE=${3:-/dev/video0}
SCHEME=${RTCSTREAM_SCHEME:-rtcstream}
WIDTH=${WIDTH:-1280}
HEIGHT=${HEIGHT:-720}
FPS=${FPS:-30}
FORMAT=${FORMAT:-raw}
AUDIO=${AUDIO:-0}

here=$(cd "$(dirname "$0")" && pwd)
. "$here/plugin-path.sh"
use_rtcstream_plugin rtcstreamsink
if [ ! -e "$DEVICE" ]; then
  echo "no camera at $DEVICE: pass the device as the third argument (v4l2-ctl --list-devices)" >&2
  exit 1
fi

case "$FORMAT" in
  raw) CAMERA="v4l2src device=$DEVICE ! video/x-raw,width=$WIDTH,height=$HEIGHT,framerate=$FPS/1" ;;
  mjpeg) CAMERA="v4l2src device=$DEVICE ! image/jpeg,width=$WIDTH,height=$HEIGHT,framerate=$FPS/1 ! jpegdec" ;;
  *) echo "FORMAT must be raw or mjpeg" >&2; exit 1 ;;
esac
MIC=""
if [ "$AUDIO" = 1 ]; then
  MIC="autoaudiosrc ! queue ! audioconvert ! audioresample ! sink.audio_0"
fi

echo "publishing $DEVICE on $SCHEME://$ADDR/$STREAM (Ctrl-C to stop)"
# $CAMERA and $MIC are pipeline fragments: they must be split into words.
# shellcheck disable=SC2086
exec gst-launch-1.0 -e \
  rtcstreamsink name=sink uri="$SCHEME://$ADDR/$STREAM" \
  $CAMERA ! queue ! videoconvert ! sink.video_0 \
  $MIC
