#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Room CPU with N participants (docs/performance.md, Rooms): N processes of
# examples/room.cpp (one rtcstreamroom each: it publishes videotestsrc and
# decodes every other participant), against a baseline doing the same media
# work with the plain elements: N gst-launch-1.0 processes, each an
# rtcstreamsink publishing and N-1 rtcstreamsrc watching the others. Both
# make the same mesh of N(N-1) peer connections; the ratio is what the room
# (its bin, its signalling, its second connection per participant) costs.
# Prints a markdown table on stdout: the CPU of all N processes together
# (one core = 100 %), per participant, the server's, and the ratio.
#
#   bench/room.sh
#   PARTICIPANTS=2,4,6 WINDOW=15 SIZE=320x240 FPS=15 bench/room.sh
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
PARTICIPANTS=${PARTICIPANTS:-2,4,6}
WINDOW=${WINDOW:-15}
WARMUP=${WARMUP:-8}
SIZE=${SIZE:-320x240}
FPS=${FPS:-15}
ROOM_APP=$BUILD/examples/rtcstream-room

TMP=$(mktemp -d)
PIDS=()
cleanup () {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

"$RTCSTREAM_SIGNALLING" --port 0 >"$TMP/signalling.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
for _ in $(seq 100); do
  PORT=$(sed -n 's/.*listening on ws:\/\/127\.0\.0\.1:\([0-9]*\)\/ws.*/\1/p' "$TMP/signalling.log")
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "the server did not start: $(cat "$TMP/signalling.log")" >&2; exit 1; }

ticks () { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
percent () { echo "scale=1; ($2 - $1) * 100 / $HZ / $WINDOW" | bc; }
W=${SIZE%x*}
H=${SIZE#*x}

# measure room|plain N -> "all% server% received"
measure () {
  local kind=$1 n=$2 pids=() i j
  for i in $(seq "$n"); do
    if [ "$kind" = room ]; then
      "$ROOM_APP" --size "$SIZE" --fps "$FPS" "rtcstream://127.0.0.1:$PORT/r$n" "p$i" \
          >"$TMP/$kind-$n-$i.log" 2>&1 &
    else
      local line="videotestsrc is-live=true pattern=ball ! video/x-raw,width=$W,height=$H,framerate=$FPS/1"
      line+=" ! textoverlay text=p$i ! rtcstreamsink uri=rtcstream://127.0.0.1:$PORT/b$n-$i"
      for j in $(seq "$n"); do
        [ "$j" = "$i" ] && continue
        line+=" rtcstreamsrc uri=rtcstream://127.0.0.1:$PORT/b$n-$j ! queue ! fakesink sync=false"
      done
      # shellcheck disable=SC2086
      gst-launch-1.0 -q $line >"$TMP/$kind-$n-$i.log" 2>&1 &
    fi
    pids+=("$!")
  done
  sleep "$WARMUP"
  local t0=0 t1=0 s0 s1
  s0=$(ticks "$SERVER")
  for p in "${pids[@]}"; do t0=$((t0 + $(ticks "$p"))); done
  sleep "$WINDOW"
  s1=$(ticks "$SERVER")
  for p in "${pids[@]}"; do t1=$((t1 + $(ticks "$p"))); done
  # The room participants say what they receive: each must have N-1 pads.
  local received=-
  if [ "$kind" = room ]; then
    received=0
    for i in $(seq "$n"); do
      local pads
      pads=$(grep -o '"event":"buffers","pad":"video_[^"]*"' "$TMP/$kind-$n-$i.log" | sort -u | wc -l)
      [ "$pads" -ge $((n - 1)) ] && received=$((received + 1))
    done
  fi
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "$(percent "$t0" "$t1") $(percent "$s0" "$s1") $received"
}

echo "| participants | room: all processes | room: per participant | server | plain elements: all | room / plain | participants receiving all others |"
echo "|---|---|---|---|---|---|---|"
for n in ${PARTICIPANTS//,/ }; do
  echo "measuring $n participants" >&2
  read -r room server received < <(measure room "$n")
  read -r plain _ _ < <(measure plain "$n")
  per=$(echo "scale=1; $room / $n" | bc)
  ratio=$(echo "scale=2; $room / $plain" | bc)
  echo "| $n | $room % | $per % | $server % | $plain % | $ratio | $received of $n |"
done
