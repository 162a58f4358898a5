#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Producer CPU with N subscribers, direct (rtcstream-signalling) vs through a
# Janus VideoRoom (docs/scale-out.md). Prints a markdown table on stdout.
# Needs /usr/bin/janus. Everything listens on 127.0.0.1; both servers get a
# temporary config and are stopped at the end.
#
#   bench/janus-fanout.sh
#   BUILD=/tmp/build-x SUBSCRIBERS=1,4,8 WINDOW=20 bench/janus-fanout.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
SUBSCRIBERS=${SUBSCRIBERS:-1,4,8}
WINDOW=${WINDOW:-20}
WARMUP=${WARMUP:-6}
LIB=/usr/lib/x86_64-linux-gnu/janus

[ -x /usr/bin/janus ] || { echo "janus is not installed" >&2; exit 1; }
ninja -C "$BUILD" >&2

TMP=$(mktemp -d)
export GST_PLUGIN_PATH=$BUILD/plugins GST_REGISTRY=$TMP/registry.bin
PIDS=()
cleanup () {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port () {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# Every .so of a folder but one, comma separated.
all_but () {
  (cd "$1" && ls *.so | grep -vx "$2" | paste -sd, -)
}

JPORT=$(free_port)
SPORT=$(free_port)
mkdir -p "$TMP/none"
cat > "$TMP/janus.jcfg" <<EOF
general: {
  configs_folder = "$TMP"
  plugins_folder = "$LIB/plugins"
  transports_folder = "$LIB/transports"
  events_folder = "$TMP/none"
  loggers_folder = "$TMP/none"
}
plugins: { disable = "$(all_but "$LIB/plugins" libjanus_videoroom.so)" }
transports: { disable = "$(all_but "$LIB/transports" libjanus_http.so)" }
events: { broadcast = false }
EOF
cat > "$TMP/janus.transport.http.jcfg" <<EOF
general: { base_path = "/janus", http = true, port = $JPORT, ip = "127.0.0.1", https = false }
admin: { admin_http = false, admin_https = false }
EOF
cat > "$TMP/janus.plugin.videoroom.jcfg" <<EOF
room-1234: { description = "bench", publishers = 2, bitrate = 4000000, fir_freq = 2,
  videocodec = "vp8", audiocodec = "opus" }
EOF
janus -F "$TMP" -C "$TMP/janus.jcfg" -N -L "$TMP/janus.log" >/dev/null 2>&1 &
JANUS=$!
PIDS+=("$JANUS")
"$BUILD/signalling/rtcstream-signalling" --port "$SPORT" >"$TMP/signalling.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$JPORT/janus/info" >/dev/null && break
  sleep 0.1
done

ticks () { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
percent () { echo "scale=1; ($2 - $1) * 100 / $HZ / $WINDOW" | bc; }

# measure URI N -> "producer% janus%"
measure () {
  local uri=$1 n=$2 subs=()
  gst-launch-1.0 -q videotestsrc is-live=true pattern=ball \
      ! video/x-raw,width=640,height=480,framerate=30/1 \
      ! rtcstreamsink uri="$uri" video-codecs=VP8 >"$TMP/pub.log" 2>&1 &
  local pub=$!
  sleep 2
  for _ in $(seq "$n"); do
    gst-launch-1.0 -q rtcstreamsrc uri="$uri" ! fakesink >>"$TMP/sub.log" 2>&1 &
    subs+=("$!")
  done
  sleep "$WARMUP"
  local p0 j0 p1 j1
  p0=$(ticks $pub); j0=$(ticks $JANUS)
  sleep "$WINDOW"
  p1=$(ticks $pub); j1=$(ticks $JANUS)
  for p in "${subs[@]}" $pub; do kill -INT "$p" 2>/dev/null || true; done
  sleep 2
  for p in "${subs[@]}" $pub; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  echo "$(percent "$p0" "$p1") $(percent "$j0" "$j1")"
}

echo "| subscribers | producer CPU, direct | producer CPU, via Janus | Janus CPU |"
echo "|---|---|---|---|"
for n in ${SUBSCRIBERS//,/ }; do
  echo "measuring $n subscribers" >&2
  read -r direct _ < <(measure "rtcstream://127.0.0.1:$SPORT/cam" "$n")
  read -r viajanus janus < <(measure "janus+http://127.0.0.1:$JPORT/janus?room=1234&display=cam" "$n")
  echo "| $n | $direct % | $viajanus % | $janus % |"
done
