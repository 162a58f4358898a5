#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# play.sh: play a stream with gst-play-1.0, through rtcstreamsrc's URI handler.
#
#   examples/play.sh [HOST:PORT] [STREAM] [gst-play-1.0 options...]
#
#   HOST:PORT  the rtcstream-signalling server (default 127.0.0.1:8443)
#   STREAM     the stream to play (default: test)
#   options    passed on, e.g. --videosink=fakesink --audiosink=fakesink
#
# gst-play-1.0 (package gstreamer1.0-plugins-base-apps) hands the URI
# rtcstream://HOST:PORT/STREAM to playbin, which picks rtcstreamsrc for the
# rtcstream:// and rtcstreams:// schemes; rtcstreamsrc outputs decoded media there.
# Any other player built on playbin or uridecodebin plays these URIs the same way.
# Seeking and pausing do not apply: this is a live stream.
#
# Environment:
#   RTCSTREAM_SCHEME  rtcstreams for a TLS (wss://) server (default rtcstream)
#   GST_PLUGIN_PATH   where the plugin is (default: build/plugins of this checkout)
set -eu

ADDR=${1:-127.0.0.1:8443}
STREAM=${2:-test}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
SCHEME=${RTCSTREAM_SCHEME:-rtcstream}

if ! command -v gst-play-1.0 >/dev/null 2>&1; then
  echo "gst-play-1.0 not found: install gstreamer1.0-plugins-base-apps" >&2
  exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/plugin-path.sh"
use_rtcstream_plugin rtcstreamsrc

exec gst-play-1.0 "$@" "$SCHEME://$ADDR/$STREAM"
