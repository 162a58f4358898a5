#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what is needed, builds, starts the signalling server and publishes
# a test pattern with a tone (no camera needed) as the stream "demo".
#   scripts/demo.sh                 test pattern
#   scripts/demo.sh --camera        /dev/video0 instead
#   PORT=9000 scripts/demo.sh       another port
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh --no-npm

PORT="${PORT:-8443}"
HOST="${HOST:-127.0.0.1}"
export GST_PLUGIN_PATH="$PWD/build/plugins${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"

# In a session of its own: Ctrl-C reaches the pipeline, which ends its
# stream cleanly (EOS) while the server is still there; the trap then stops it.
setsid build/signalling/rtcstream-signalling --host "$HOST" --port "$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 0.5

if [ "${1:-}" = "--camera" ]; then
  VIDEO="v4l2src ! videoconvert ! videoscale ! video/x-raw,width=1280,height=720"
else
  # navigationtest draws the browser's mouse pointer and clicks: the page sends
  # them back to the pipeline (rtcstreamsink navigation=true, the default).
  VIDEO="videotestsrc is-live=true pattern=ball ! video/x-raw,width=1280,height=720,framerate=30/1 ! navigationtest ! videoconvert ! timeoverlay"
fi

cat <<MSG

  rtcstream demo: publishing "demo" on rtcstream://$HOST:$PORT/demo
  Watch it from another terminal:
    GST_PLUGIN_PATH=$PWD/build/plugins gst-play-1.0 rtcstream://$HOST:$PORT/demo
  Watch it in a browser: http://$HOST:$PORT/?stream=demo
    (it plays by itself, muted: unmute it on its bar; move the mouse over the video and
    click: the pipeline draws where you point; http://$HOST:$PORT/ lists every stream)
  Ctrl-C stops.

MSG
# shellcheck disable=SC2086
gst-launch-1.0 -e rtcstreamsink name=s uri="rtcstream://$HOST:$PORT/demo" \
  $VIDEO ! queue ! s.video_0 \
  audiotestsrc is-live=true wave=sine volume=0.2 ! queue ! s.audio_0
