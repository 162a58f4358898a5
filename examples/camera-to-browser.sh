#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Publishes a camera (or, with CAMERA=test, a test pattern) and prints the link
# that plays it in a browser (http://HOST:PORT/?stream=STREAM). Assumes rtcstream-signalling runs at HOST:PORT.
#   examples/camera-to-browser.sh [HOST:PORT] [STREAM]
#   CAMERA=/dev/video2 examples/camera-to-browser.sh
set -eu

ADDR=${1:-127.0.0.1:8443}
STREAM=${2:-cam}
CAMERA=${CAMERA:-/dev/video0}

here=$(cd "$(dirname "$0")" && pwd)
. "$here/plugin-path.sh"
use_rtcstream_plugin rtcstreamsink

if [ "$CAMERA" = test ] || [ ! -e "$CAMERA" ]; then
  [ "$CAMERA" = test ] || echo "no camera at $CAMERA: publishing a test pattern" >&2
  VIDEO="videotestsrc is-live=true pattern=ball"
else
  VIDEO="v4l2src device=$CAMERA ! videoconvert"
fi

echo "open http://$ADDR/?stream=$STREAM in a browser: it plays by itself, muted (Ctrl-C here to stop)"
# shellcheck disable=SC2086
exec gst-launch-1.0 -e rtcstreamsink name=sink uri="rtcstream://$ADDR/$STREAM" \
  $VIDEO ! videoscale ! video/x-raw,width=1280,height=720 ! queue ! sink.video_0
